//! Bad input to the core: garbage datagrams, SDP it cannot accept, answers nobody asked for.
//! Each is refused or dropped and counted; none panics, and a lesson in progress goes on.

use crate::common;

use std::time::Duration;

use aula_sfu::worker::Output;
use aula_sfu::{Command, Kind, ParticipantId, SfuEvent, Source};
use common::{RawCamera, Received, SERVER, Sim};
use rand::{Rng, SeedableRng};

fn errors_for(sim: &mut Sim, cmd: Command) -> Vec<String> {
    let room = sim.room.clone();
    sim.worker.handle_command(sim.now, &room, cmd);
    let mut codes = Vec::new();
    while let Some(out) = sim.worker.poll_output() {
        if let Output::Event {
            event: SfuEvent::Error { error: e, .. },
            ..
        } = out
        {
            codes.push(e.code().to_string());
        }
    }
    codes
}

#[test]
fn garbage_datagrams_are_counted_and_the_lesson_goes_on() {
    let mut sim = Sim::new(9);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(1));
    let before = sim.frames(1, 0, Kind::Video).len();

    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let server = SERVER.parse().unwrap();
    let stranger = "127.0.9.9:4444".parse().unwrap();
    let known = "127.1.2.1:6000".parse().unwrap(); // client 1's subscribe address
    for i in 0..5000 {
        let len = rng.random_range(0..1500);
        let mut data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Make some of it look like STUN, RTP and DTLS, the kinds the core demultiplexes.
        if let Some(first) = data.first_mut() {
            *first = [0x00, 0x01, 0x80, 0x16, *first][i % 5];
        }
        let from = if i % 2 == 0 { stranger } else { known };
        sim.worker.handle_datagram(sim.now, from, server, &data);
    }
    let stats = sim.worker.stats();
    assert!(stats.datagrams_unroutable >= 2500, "{stats:?}");
    assert!(stats.datagrams_rejected > 0, "{stats:?}");

    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(1, 0, Kind::Video).len() > before + 20,
        "media still flows"
    );
}

#[test]
fn unacceptable_commands_get_clear_errors() {
    let mut sim = Sim::new(10);
    let p = sim.clients.len();
    sim.join();
    let id = sim.clients[p].id;

    let garbage = Command::Publish {
        participant: id,
        offer: "this is not sdp".into(),
        tracks: vec![],
    };
    assert_eq!(errors_for(&mut sim, garbage), ["bad_sdp"]);

    let many = "v=0\r\n".to_string() + &"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n".repeat(4);
    let too_many = Command::Publish {
        participant: id,
        offer: many,
        tracks: vec![],
    };
    assert_eq!(errors_for(&mut sim, too_many), ["too_many_tracks"]);

    let answer = Command::SubscribeAnswer {
        participant: id,
        answer: "v=0".into(),
    };
    assert_eq!(errors_for(&mut sim, answer), ["unexpected_answer"]);

    let stranger = Command::SubscribeAnswer {
        participant: ParticipantId(77),
        answer: "v=0".into(),
    };
    assert_eq!(errors_for(&mut sim, stranger), ["not_joined"]);

    let candidate = Command::RemoteCandidate {
        participant: id,
        direction: aula_sfu::Direction::Publish,
        candidate: "candidate:garbage".into(),
    };
    assert!(
        errors_for(&mut sim, candidate).is_empty(),
        "a bad candidate is ignored"
    );
}

#[test]
fn offers_that_contradict_themselves_get_bad_sdp_with_the_reason_and_the_lesson_goes_on() {
    let mut sim = Sim::new(13);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(1));
    let id = sim.clients[1].id;
    let before = sim.frames(1, 0, Kind::Video).len();
    let offers = [
        // Only codecs the SFU cannot forward.
        "v=0\r\na=group:BUNDLE 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=mid:0\r\na=sendonly\r\n\
         a=rtpmap:98 VP9/90000\r\n",
        // One payload type, two codecs.
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n\
         a=rtpmap:96 H264/90000\r\n",
        // One extension id, two extensions.
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n\
         a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
         a=sendonly\r\na=rtpmap:96 VP8/90000\r\na=extmap:3 urn:ietf:params:rtp-hdrext:toffset\r\n",
    ];
    for offer in offers {
        let cmd = Command::Publish {
            participant: id,
            offer: offer.into(),
            tracks: vec![],
        };
        let room = sim.room.clone();
        sim.worker.handle_command(sim.now, &room, cmd);
        let messages: Vec<String> = std::iter::from_fn(|| sim.worker.poll_output())
            .filter_map(|o| match o {
                Output::Event {
                    event: SfuEvent::Error { error: e, .. },
                    ..
                } => Some(format!("{} {e}", e.code())),
                _ => None,
            })
            .collect();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("bad_sdp"), "{messages:?}");
        assert!(
            ["no codec", "payload type 96", "extension id 3"]
                .iter()
                .any(|why| messages[0].contains(why)),
            "{messages:?}"
        );
    }
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(1, 0, Kind::Video).len() > before + 20,
        "the lesson goes on"
    );
}

#[test]
fn junk_rtp_from_a_publisher_is_dropped_and_counted_and_the_others_go_on() {
    let mut sim = Sim::new(10);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.publish(1);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let from_1 = sim.frames(2, 1, Kind::Video).len();
    assert!(from_1 > 20, "client 1's camera reaches client 2");

    // Client 0 turns hostile for two seconds: packets on five layers its offer never
    // announced. (Its own camera stops reaching the server once str0m has mapped the made-up
    // layers to its m-line: that harms the sender only.)
    for _ in 0..20 {
        sim.inject_unannounced_layers(0, 5);
        sim.run_for(Duration::from_millis(100));
    }
    // And client 2's page reports absurd tile sizes: clamped.
    sim.view(
        2,
        &[(0, Source::Camera, 100_000_000), (1, Source::Camera, 0)],
    );
    sim.run_for(Duration::from_secs(1));

    let stats = sim.worker.stats();
    assert!(stats.packets_unannounced >= 5, "{stats:?}");
    let frames = sim.frames(2, 1, Kind::Video);
    assert!(
        frames.len() > from_1 + 80,
        "the other publisher's camera never stopped: {from_1} -> {}",
        frames.len()
    );
    for pair in frames.windows(2) {
        assert_eq!(pair[1].first_seq, pair[0].last_seq + 1, "and never skipped");
    }
}

/// A client's real STUN check, replayed from many other addresses (what someone on the path
/// could do): each address str0m accepts it from is routed to that connection, but at most
/// eight per connection (`MAX_ADDRS`), the oldest making way, so the route table cannot grow
/// without bound; and the client's own address, pushed out, comes back with its next check.
#[test]
fn a_connection_routes_at_most_eight_addresses_and_its_own_comes_back() {
    let mut sim = Sim::new(21);
    sim.capture = Some(Vec::new());
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let corpus = sim.capture.take().expect("captured");
    // A binding request (type 0x0001) from the publisher's publish connection.
    let publish_addr: std::net::SocketAddr = "127.1.1.1:5001".parse().unwrap();
    let publisher = corpus
        .iter()
        .find(|(s, _, d)| *s == publish_addr && d.len() > 20 && d[0] == 0x00 && d[1] == 0x01)
        .cloned()
        .expect("a STUN binding request");
    let (source, server, check) = publisher;
    let (_, routed) = sim.worker.route_counts();

    for i in 0..40u16 {
        let elsewhere = format!("10.77.{}.{}:{}", i / 200, 1 + i % 200, 20_000 + i);
        let elsewhere = elsewhere.parse().unwrap();
        sim.worker
            .handle_datagram(sim.now, elsewhere, server, &check);
        while sim.worker.poll_output().is_some() {}
    }
    let (_, after) = sim.worker.route_counts();
    assert_eq!(
        after,
        routed + 7,
        "its one address became eight, not 41 (from {source})"
    );

    // Pushed out: the publisher's media is not routed until its next check.
    let lost = sim.worker.stats().datagrams_unroutable;
    sim.run_for(Duration::from_millis(200));
    assert!(
        sim.worker.stats().datagrams_unroutable > lost,
        "its own address was pushed out"
    );
    let (from, to) = (0, 1);
    let before = sim.frames(to, from, Kind::Video).len();
    sim.run_for(Duration::from_secs(8));
    let (_, settled) = sim.worker.route_counts();
    assert!(settled <= routed + 7, "{settled} routes");
    assert!(
        sim.frames(to, from, Kind::Video).len() > before + 40,
        "the publisher's media flows again"
    );
}

/// Frames one after another with no sequence number missing between them.
fn unbroken(frames: &[&Received]) -> bool {
    frames
        .windows(2)
        .all(|pair| pair[1].first_seq == pair[0].last_seq + 1)
}

/// A publisher whose real, encrypted camera stream turns absurd: every packet 20,000 sequence
/// numbers past the last with time running backwards; then numbering that starts again 20,000
/// back, which str0m takes for replayed packets and drops (it keeps no window that far back), so
/// that camera is silent; then a jump far ahead, and the camera is sane again. The other camera
/// in the room never stops or skips; the absurd one harms only itself, its subscriber sees its
/// frames numbered without a hole through every jump, and once it is sane it is back.
#[test]
fn absurd_numbers_on_a_real_stream_harm_only_their_sender() {
    let mut sim = with_raw_camera(31);
    sim.join();
    sim.publish(1);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let (hostile, sane) = (
        sim.frames(2, 0, Kind::Video).len(),
        sim.frames(2, 1, Kind::Video).len(),
    );
    assert!(
        hostile > 20 && sane > 20,
        "both cameras reach client 2: {hostile}, {sane}"
    );

    raw(&mut sim).seq_step = 20_000;
    raw(&mut sim).ts_step = -2970;
    sim.run_for(Duration::from_millis(1500));
    let absurd = sim.frames(2, 0, Kind::Video);
    assert!(
        absurd.len() > hostile + 30,
        "forwarded while absurd: {hostile} -> {}",
        absurd.len()
    );
    assert!(unbroken(&absurd), "numbered on without a hole");
    let absurd = absurd.len();

    raw(&mut sim).seq_step = 1;
    raw(&mut sim).jump(-20_000);
    sim.run_for(Duration::from_millis(1500));
    let behind = sim.frames(2, 0, Kind::Video).len();
    assert!(
        behind <= absurd + 1,
        "taken for replays: {absurd} -> {behind}"
    );

    raw(&mut sim).jump(30_000);
    raw(&mut sim).ts_step = 2970;
    let sane_again = sim.now;
    sim.run_for(Duration::from_secs(3));

    let others = sim.frames(2, 1, Kind::Video);
    assert!(
        others.len() > sane + 170,
        "the other camera never stopped: {sane} -> {}",
        others.len()
    );
    assert!(unbroken(&others), "and never skipped");
    let all = sim.frames(2, 0, Kind::Video);
    assert!(unbroken(&all), "one unbroken stream through every jump");
    let back = all
        .iter()
        .filter(|f| f.at > sane_again + Duration::from_secs(1))
        .count();
    assert!(back > 40, "the sane camera comes back: {back}");
    assert!(
        sim.clients[2].errors.is_empty(),
        "{:?}",
        sim.clients[2].errors
    );
}

/// A publisher whose real, encrypted camera stream sends packets with more payload than any
/// browser (up to what a datagram the server reads can hold): dropped and counted, and the
/// room goes on; before, str0m's send buffer had no room for such a packet and a subscriber's
/// connection panicked the worker, every room on it with it.
#[test]
fn an_oversized_packet_is_dropped_and_counted_and_the_room_goes_on() {
    let mut sim = with_raw_camera_of(36, true);
    sim.join();
    sim.publish(1);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let sane = sim.frames(2, 1, Kind::Video).len();
    assert!(sane > 20, "client 1's camera reaches client 2");
    // Up to 1,980 bytes: what the harness's own str0m can send after its 20-byte header (its
    // send buffer is the server's); the server's headers to its subscriber are longer.
    for bytes in (1_505..=1_980).step_by(25) {
        raw(&mut sim).payload_bytes = Some(bytes);
        sim.run_for(Duration::from_millis(40));
    }
    raw(&mut sim).payload_bytes = None;
    let dropped = sim.worker.stats().packets_oversized;
    assert!(dropped >= 20, "{dropped} oversized packets counted");
    let hostile = sim.frames(2, 0, Kind::Video).len();
    sim.run_for(Duration::from_secs(2));
    let others = sim.frames(2, 1, Kind::Video).len();
    assert!(
        others > sane + 60,
        "the other camera goes on: {sane} -> {others}"
    );
    let back = sim.frames(2, 0, Kind::Video).len();
    assert!(
        back > hostile + 30,
        "and the sane frames after: {hostile} -> {back}"
    );
}

/// A publisher sending twenty packets with nothing in them after every frame: all counted,
/// none forwarded, and its subscribers see its frames numbered without a hole.
#[test]
fn empty_packets_are_counted_and_go_to_nobody() {
    let mut sim = with_raw_camera(32);
    sim.join();
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let sent = |sim: &Sim| sim.clients[1].datagrams_in + sim.clients[2].datagrams_in;
    let before = sent(&sim);
    sim.run_for(Duration::from_secs(2));
    let normal = sent(&sim) - before;

    sim.clients[0]
        .raw_camera
        .as_mut()
        .expect("raw")
        .empty_per_frame = 20;
    let (before, empty, frames) = (
        sent(&sim),
        sim.worker.stats().packets_empty,
        sim.frames(1, 0, Kind::Video).len(),
    );
    sim.run_for(Duration::from_secs(2));
    let flooded = sent(&sim) - before;
    let counted = sim.worker.stats().packets_empty - empty;
    assert!(
        counted > 20 * 30 * 2 * 9 / 10,
        "{counted} empty packets counted"
    );
    assert!(
        flooded < normal + normal / 5,
        "none of them forwarded: {normal} datagrams to the two subscribers in 2 s, {flooded} in the flood"
    );
    let during = sim.frames(1, 0, Kind::Video);
    assert!(during.len() > frames + 50, "{frames} -> {}", during.len());
    assert!(
        unbroken(&during[frames.saturating_sub(1)..]),
        "no hole where they were"
    );
}

/// A subscriber's own feedback (its real SRTCP: receiver reports, NACKs for what its lossy link
/// lost, transport feedback) replayed to the server twenty times over as it is sent, for two
/// seconds — what a hostile page or someone on its path could do. Against the same lesson
/// without the replay (the simulation is seeded): the flooded connection is sent at most half
/// again as much (str0m answers a repeated NACK again, within its cap on resends and the
/// pacer), the publisher is asked for keyframes at the limiter's pace, and the other
/// subscriber never notices.
#[test]
fn a_flood_of_replayed_feedback_stays_with_its_connection() {
    for seed in [33, 34, 35] {
        let control = feedback_flood(seed, 0);
        let flood = feedback_flood(seed, 20);
        assert!(
            flood.replayed > 500,
            "{} datagrams replayed",
            flood.replayed
        );
        assert!(
            flood.to_flooder * 2 < control.to_flooder * 3,
            "seed {seed}: the flooded connection is sent {} datagrams in 2 s, {} without the flood",
            flood.to_flooder,
            control.to_flooder
        );
        assert!(
            flood.keyframe_requests <= control.keyframe_requests + 5,
            "seed {seed}: keyframe requests at the limiter's pace: {} without, {} in the flood",
            control.keyframe_requests,
            flood.keyframe_requests
        );
        assert!(
            flood.other_unbroken,
            "seed {seed}: the other subscriber unbroken"
        );
        assert!(
            flood.other_frames + 5 >= control.other_frames,
            "seed {seed}: the other subscriber's frames: {} without, {} in the flood",
            control.other_frames,
            flood.other_frames
        );
        eprintln!(
            "seed {seed}: replayed {}: rejected {}, sent to the flooder {} -> {}, keyframe requests {} -> {}",
            flood.replayed,
            flood.rejected,
            control.to_flooder,
            flood.to_flooder,
            control.keyframe_requests,
            flood.keyframe_requests
        );
    }
}

/// What two seconds of a class bring, with the feedback of one subscriber on a lossy link
/// replayed `times` over as it is sent (0: none).
struct Flood {
    replayed: usize,
    rejected: u64,
    to_flooder: u64,
    keyframe_requests: usize,
    other_frames: usize,
    other_unbroken: bool,
}

fn feedback_flood(seed: u64, times: usize) -> Flood {
    let mut sim = Sim::new(seed);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.join();
    sim.clients[1].downlink_loss = 0.1;
    sim.run_for(Duration::from_secs(3));
    let flooder = sim.clients[1].down_addr().expect("a subscribe connection");
    let is_rtcp = |d: &[u8]| d.len() > 8 && (192..=223).contains(&d[1]) && d[0] >> 6 == 2;

    let (before, keyframes) = (
        sim.clients[1].datagrams_in,
        sim.clients[0].keyframe_requests.len(),
    );
    let other = sim.frames(2, 0, Kind::Video).len();
    let rejected = sim.worker.stats().datagrams_rejected;
    let mut replayed = 0;
    let end = sim.now + Duration::from_secs(2);
    while sim.now < end {
        sim.capture = Some(Vec::new());
        sim.run_for(Duration::from_millis(20));
        let feedback: Vec<_> = (sim.capture.take().expect("captured").into_iter())
            .filter(|(source, _, d)| *source == flooder && is_rtcp(d))
            .collect();
        for _ in 0..times {
            replayed += feedback.len();
            sim.inject(&feedback);
        }
    }
    let frames = sim.frames(2, 0, Kind::Video);
    Flood {
        replayed,
        rejected: sim.worker.stats().datagrams_rejected - rejected,
        to_flooder: sim.clients[1].datagrams_in - before,
        keyframe_requests: sim.clients[0].keyframe_requests.len() - keyframes,
        other_frames: frames.len() - other,
        other_unbroken: unbroken(&frames[other.saturating_sub(1)..]),
    }
}

/// A lesson whose first participant publishes a camera that writes its own RTP (900-byte
/// frames), and nobody else yet.
fn with_raw_camera(seed: u64) -> Sim {
    with_raw_camera_of(seed, false)
}

/// The same, its publish connection offering only the mid extension if `bare_header`.
fn with_raw_camera_of(seed: u64, bare_header: bool) -> Sim {
    let mut sim = Sim::new(seed);
    sim.join();
    sim.clients[0].raw_camera = Some(RawCamera::default());
    sim.clients[0].video_bytes = 900;
    sim.clients[0].bare_header = bare_header;
    sim.publish(0);
    sim
}

/// The hand-written camera of client 0.
fn raw(sim: &mut Sim) -> &mut RawCamera {
    sim.clients[0].raw_camera.as_mut().expect("raw")
}
