//! Simulcast through the SFU, in simulated time: a publisher sends its camera as three layers
//! (`q` 180, `h` 360, `f` 720 lines; each frame carries its layer index); each subscriber gets
//! exactly one, the one its page's tile size calls for, switched only at a keyframe of the new
//! layer and on one unbroken stream (sequence numbers, timestamps, VP8 picture ids). A hidden
//! tile gets no video; a layer the publisher stops is replaced by the next one it sends.
//!
//! A larger layer also needs the subscriber's bandwidth estimate to allow it: GCC keeps its
//! estimate near what is sent and probes upwards when more is wanted, which in this harness
//! takes up to about two seconds; a smaller layer needs only its keyframe.

use crate::common;

use std::time::{Duration, Instant};

use aula_sfu::{Kind, Source};
use common::{Received, Sim};

/// A teacher publishing simulcast and two students who only watch.
fn class(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.join();
    sim.clients[0].simulcast = true;
    sim.publish(0);
    sim.join();
    sim.join();
    sim.run_for(Duration::from_secs(2));
    sim
}

fn video_since(sim: &Sim, i: usize, since: Instant) -> Vec<Received> {
    let frames = sim.frames(i, 0, Kind::Video);
    frames
        .into_iter()
        .filter(|f| f.at >= since)
        .cloned()
        .collect()
}

/// The layers of the frames, in order, without repeats: e.g. [1, 0].
fn layers(frames: &[Received]) -> Vec<u8> {
    let mut seen: Vec<u8> = Vec::new();
    for f in frames {
        if seen.last() != Some(&f.tag) {
            seen.push(f.tag);
        }
    }
    seen
}

/// One stream to the decoder: sequence numbers on by one, timestamps forward, picture ids
/// (where the sender puts them; str0m's packetizer does not, browsers do: rewrite.rs's tests
/// cover those) on by one.
fn assert_unbroken(frames: &[Received], what: &str) {
    for pair in frames.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            b.first_seq,
            a.last_seq + 1,
            "{what}: sequence numbers go on: {a:?} {b:?}"
        );
        assert!(b.rtp_time > a.rtp_time, "{what}: timestamps go forward");
        if let (Some(pa), Some(pb)) = (a.picture_id, b.picture_id) {
            assert_eq!(pb, pa + 1, "{what}: picture ids go on by one");
        }
        assert!(b.contiguous, "{what}: the depacketizer saw no gap");
    }
}

#[test]
fn each_subscriber_gets_the_layer_its_tile_needs() {
    let mut sim = class(31);
    // Before any view: the middle layer.
    let t0 = sim.now;
    sim.run_for(Duration::from_secs(1));
    assert_eq!(layers(&video_since(&sim, 1, t0)), [1]);

    // Student 1 shows the teacher large, student 2 as a thumbnail.
    sim.view(1, &[(0, Source::Camera, 720)]);
    sim.view(2, &[(0, Source::Camera, 108)]);
    let changed = sim.now;
    sim.run_for(Duration::from_secs(5));
    let big = video_since(&sim, 1, changed);
    let small = video_since(&sim, 2, changed);
    assert_eq!(layers(&big), [1, 2], "middle, then the large layer");
    assert_eq!(layers(&small), [1, 0], "middle, then the small layer");
    for (frames, what) in [(&big, "large"), (&small, "small")] {
        let first_new = frames.iter().position(|f| f.tag != 1).expect("switched");
        assert!(frames[first_new].keyframe, "{what}: switched at a keyframe");
        let at = frames[first_new].at - changed;
        let limit = if what == "large" { 3500 } else { 700 };
        assert!(
            at < Duration::from_millis(limit),
            "{what}: switched within {at:?}"
        );
        assert_unbroken(frames, what);
    }
    // The large layer is several packets a frame: about as many frames as before arrive.
    let per_second = big
        .iter()
        .filter(|f| f.at > changed + Duration::from_secs(3))
        .count();
    assert!(
        per_second > 50,
        "video goes on at its frame rate: {per_second} in 2 s"
    );
}

#[test]
fn two_pages_waiting_for_keyframes_of_two_layers_ask_for_both() {
    // Layers follow the tiles alone here. One page shows the teacher large, the other small;
    // they swap at the same instant, and the teacher's page takes 300 ms to send a keyframe.
    // Each packet meanwhile finds one page waiting for her small layer's keyframe and the
    // other for her large one's: both are asked for, not only the one the last page wants.
    let mut sim = Sim::without_adaptation(35);
    sim.join();
    sim.clients[0].simulcast = true;
    sim.clients[0].keyframe_latency = Duration::from_millis(300);
    sim.publish(0);
    sim.join();
    sim.join();
    sim.view(1, &[(0, Source::Camera, 720)]);
    sim.view(2, &[(0, Source::Camera, 108)]);
    sim.run_for(Duration::from_secs(5));
    let swapped = sim.now;
    sim.view(1, &[(0, Source::Camera, 108)]);
    sim.view(2, &[(0, Source::Camera, 720)]);
    sim.run_for(Duration::from_millis(200));
    let asked: Vec<_> = (sim.clients[0].keyframe_request_layers.iter())
        .filter(|(at, _)| *at >= swapped)
        .map(|(at, layer)| (*at - swapped, *layer))
        .collect();
    for layer in [0, 2] {
        assert!(
            asked.iter().any(|(_, l)| *l == Some(layer)),
            "layer {layer} asked for: {asked:?}"
        );
    }
    sim.run_for(Duration::from_secs(1));
    assert_eq!(layers(&video_since(&sim, 1, swapped)), [2, 0]);
    assert_eq!(layers(&video_since(&sim, 2, swapped)), [0, 2]);
}

#[test]
fn a_hidden_tile_gets_no_video_and_its_audio_goes_on() {
    let mut sim = class(32);
    sim.view(1, &[]);
    let hidden = sim.now;
    sim.run_for(Duration::from_secs(2));
    let after = |sim: &Sim, kind| {
        let frames = sim.frames(1, 0, kind);
        frames
            .iter()
            .filter(|f| f.at > hidden + Duration::from_millis(100))
            .count()
    };
    assert_eq!(after(&sim, Kind::Video), 0, "no video for a hidden tile");
    assert!(after(&sim, Kind::Audio) > 80, "audio goes on");

    sim.view(1, &[(0, Source::Camera, 180)]);
    let shown = sim.now;
    sim.run_for(Duration::from_secs(2));
    let back = video_since(&sim, 1, shown);
    assert!(back.len() > 30, "video comes back");
    assert!(back[0].keyframe, "from a keyframe");
    assert_eq!(layers(&back), [0]);
    let all = sim.frames(1, 0, Kind::Video);
    let all: Vec<Received> = all.into_iter().cloned().collect();
    assert_unbroken(&all, "hidden and shown again");
}

#[test]
fn a_layer_the_publisher_stops_is_replaced_by_the_next_it_sends() {
    let mut sim = class(33);
    sim.view(1, &[(0, Source::Camera, 720)]);
    sim.run_for(Duration::from_secs(8));
    assert_eq!(
        video_since(&sim, 1, sim.now - Duration::from_millis(500))
            .last()
            .unwrap()
            .tag,
        2
    );

    // The teacher's browser pauses the 720 layer (CPU or bandwidth): within about a second the
    // student gets the 360 one, from its keyframe, on the same stream.
    sim.clients[0].layers_on[2] = false;
    let stopped = sim.now;
    sim.run_for(Duration::from_secs(3));
    // (What the SFU's pacer still held of the 720 layer arrives in the first few ms.)
    let after = video_since(&sim, 1, stopped + Duration::from_millis(100));
    assert_eq!(layers(&after), [1]);
    let switched = &after[0];
    assert!(switched.keyframe);
    // A layer counts as stopped after a second without packets; its keyframe follows.
    let took = switched.at - stopped;
    assert!(took < Duration::from_millis(1600), "{took:?}");
    let all: Vec<Received> = sim.frames(1, 0, Kind::Video).into_iter().cloned().collect();
    assert_unbroken(&all, "a layer stopped");
}

#[test]
fn a_switch_waits_for_the_new_layer_s_keyframe_and_never_freezes() {
    let mut sim = class(34);
    sim.view(1, &[(0, Source::Camera, 180)]);
    sim.run_for(Duration::from_secs(2));
    // The next keyframe of the 720 layer is only sent when asked: until it arrives, the
    // subscriber keeps the small layer's frames; no gap in what it gets.
    sim.view(1, &[(0, Source::Camera, 720)]);
    let changed = sim.now;
    sim.run_for(Duration::from_secs(8));
    let after = video_since(&sim, 1, changed - Duration::from_millis(200));
    // Up to the large layer, through the middle one if the estimate allows that first.
    let seen = layers(&after);
    assert_eq!(
        (seen.first(), seen.last()),
        (Some(&0), Some(&2)),
        "{seen:?}"
    );
    let mut switches = after.windows(2).filter(|p| p[0].tag != p[1].tag);
    assert!(
        switches.all(|p| p[1].keyframe),
        "every switch at a keyframe"
    );
    for pair in after.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap < Duration::from_millis(100), "a {gap:?} freeze");
    }
}
