//! Bandwidth adaptation through the SFU, in simulated time with a shaped downlink (a token
//! bucket with a drop-tail queue and a one-way delay, in the harness): a subscriber gets what
//! its link carries, in the order a lesson needs; encodings nobody takes are switched off at
//! the publisher; a room's budget holds.

use crate::common;

use std::time::{Duration, Instant};

use aula_sfu::{Kind, Source};
use common::Sim;

/// A teacher (a host) and `students` students, everyone publishing simulcast; the last
/// student's page shows the teacher large and the others as thumbnails.
fn class(seed: u64, students: usize) -> Sim {
    let mut sim = Sim::new(seed);
    for i in 0..=students {
        sim.join();
        sim.clients[i].simulcast = true;
        sim.publish(i);
    }
    sim.set_host(0, true);
    let viewer = students;
    let mut tiles = vec![(0, Source::Camera, 720)];
    tiles.extend((1..students).map(|s| (s, Source::Camera, 180)));
    sim.view(viewer, &tiles);
    sim
}

/// The latest report's picture of client `i` as a subscriber.
fn subscriber(sim: &Sim, i: usize) -> aula_sfu::SubscriberReport {
    let report = sim.report.as_ref().expect("a report");
    let id = sim.clients[i].id;
    let me = report.subscribers.iter().find(|s| s.participant == id);
    me.cloned().expect("the subscriber")
}

/// Bit/s the server offered client `i`'s link over the last 10 s (not what the link let
/// through), up to now.
fn offered_last_10s(sim: &Sim, i: usize) -> u64 {
    let ten = sim.now - Duration::from_secs(10);
    offered_bytes(sim, i, |t| t >= ten) as u64 * 8 / 10
}

/// Bit/s the server offered client `i`'s link from `from` for `span`.
fn offered(sim: &Sim, i: usize, from: Instant, span: Duration) -> u64 {
    let bytes = offered_bytes(sim, i, |t| t >= from && t < from + span);
    (bytes as f64 * 8.0 / span.as_secs_f64()) as u64
}

/// Bytes the server offered client `i`'s link at the times `when` takes, with each
/// datagram's IP and UDP headers.
fn offered_bytes(sim: &Sim, i: usize, when: impl Fn(Instant) -> bool) -> usize {
    (sim.clients[i].downlink_offered.iter())
        .filter(|(t, _)| when(*t))
        .map(|(_, n)| n + 28)
        .sum()
}

/// Runs a class whose viewer's link falls to `rate` after 5 s in which nobody is capped, and
/// returns every cap its publisher was told since, from `caps` (the screen's or the camera's;
/// `None`: lifted), the first of them a cap. The later ones follow GCC's estimate, which
/// wobbles by a tenth or more around the link: a video that nearly fits (the camera's test)
/// fits whole at its peaks and is uncapped once it has for a while, so the last one told
/// depends on where the estimate stands when the run ends.
fn caps_on_a_thin_link(
    sim: &mut Sim,
    viewer: usize,
    rate: u64,
    caps: fn(&common::Client) -> &common::CapsSeen,
) -> common::CapsSeen {
    sim.run_for(Duration::from_secs(5));
    assert!(
        caps(&sim.clients[0]).is_empty(),
        "no cap while everyone takes it"
    );
    sim.clients[viewer].downlink_rate = Some(rate);
    sim.run_for(Duration::from_secs(25));
    let told = caps(&sim.clients[0]).clone();
    assert!(
        told.first().is_some_and(|c| c.1.is_some()),
        "capped: {told:?}"
    );
    told
}

/// A class of two whose teacher shares her screen (about 720 kbit/s here) beside her camera,
/// both students showing it large and her camera small, the second student's link falling to
/// `rate` (see [`caps_on_a_thin_link`]); every cap told is between the share's floor and the
/// link.
fn share_on_a_thin_link(seed: u64, rate: u64) -> (Sim, common::CapsSeen) {
    let mut sim = class(seed, 2);
    sim.run_for(Duration::from_secs(2));
    assert!(sim.renegotiate_publish(0, true, true, true));
    let tiles = [(0, Source::Screen, 1080), (0, Source::Camera, 180)];
    sim.view(1, &tiles);
    sim.view(2, &tiles);
    let caps = caps_on_a_thin_link(&mut sim, 2, rate, |c| &c.screen_caps);
    assert!(
        caps.iter()
            .filter_map(|c| c.1)
            .all(|c| (150_000..rate).contains(&c)),
        "{caps:?}"
    );
    (sim, caps)
}

/// Bit/s that arrived at client `i` between `from` and `to`.
fn arrived(sim: &Sim, i: usize, from: Instant, to: Instant) -> u64 {
    let bytes: usize = sim.clients[i]
        .downlink_arrived
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, n)| n + 28)
        .sum();
    (bytes as u64 * 8) * 1000 / (to - from).as_millis().max(1) as u64
}

#[test]
fn a_weak_link_keeps_the_teacher_and_the_audio_and_stays_under_its_capacity() {
    // Four audio streams (76 kbit/s each in this harness) and the teacher's lowest layer
    // (about 160) take two thirds of the link; GCC settles at some 80 % of it.
    let mut sim = class(41, 4);
    let viewer = 4;
    sim.clients[viewer].downlink_rate = Some(700_000);
    sim.run_for(Duration::from_secs(20));
    let start = sim.now;
    let changes = sim.worker.stats().layer_changes;
    sim.run_for(Duration::from_secs(10));

    // Settled: layers do not flap.
    let changes = sim.worker.stats().layer_changes - changes;
    assert!(
        changes <= 6,
        "{changes} layer changes in 10 s of a steady link"
    );
    let rate = arrived(&sim, viewer, start, sim.now);
    assert!(rate <= 700_000, "{rate} bit/s over a 700 kbit/s link");
    assert!(rate >= 450_000, "the link is used: {rate} bit/s");
    let dropped = sim.clients[viewer].downlink_dropped;
    let teacher = sim.frames(viewer, 0, Kind::Video);
    let recent = teacher.iter().filter(|f| f.at >= start).count();
    assert!(
        recent > 200,
        "the teacher's video flows: {recent} frames in 10 s"
    );
    for s in 0..4 {
        let audio = sim.frames(viewer, s, Kind::Audio);
        let gaps = audio
            .windows(2)
            .filter(|p| p[0].at >= start && p[1].at - p[0].at > Duration::from_millis(200))
            .count();
        assert_eq!(
            gaps, 0,
            "audio of {s} uninterrupted ({dropped} datagrams dropped)"
        );
    }
    // Not everything fits: some student videos are lowered or paused, and the page is told.
    let me = subscriber(&sim, viewer);
    assert!(me.limited, "its own link limits it: {me:?}");
    let teacher_layer = me.videos.iter().find(|v| v.publisher == sim.clients[0].id);
    assert!(teacher_layer.is_some_and(|v| v.layer.is_some()), "{me:?}");
}

#[test]
fn muted_microphones_keep_no_room_from_the_videos() {
    // A class joins muted: of six students only the teacher speaks (the viewer's own voice
    // does not come back to it). A voice is kept at 60 kbit/s or more; kept for the five muted
    // ones as well, they took 300 kbit/s of a 700 kbit/s link for nothing.
    let mut sim = class(47, 6);
    let viewer = 6;
    for s in 1..=5 {
        sim.gate(s, Source::Microphone, false);
    }
    sim.clients[viewer].downlink_rate = Some(700_000);
    sim.run_for(Duration::from_secs(20));
    let mut video = Vec::new();
    for _ in 0..20 {
        sim.run_for(Duration::from_millis(500));
        let me = subscriber(&sim, viewer);
        let layers = me.videos.iter().filter_map(|v| v.layer);
        video.push(layers.map(|l| l.bitrate).sum::<u64>() / 1000);
    }
    println!("kbit/s of video given, every half second: {video:?}");
    // Kept for the muted, the videos had the teacher's 180p (some 150 kbit/s here) and
    // nothing more; with only her voice kept, her 360p (470) or her 180p and thumbnails.
    let mean = video.iter().sum::<u64>() / 20;
    assert!(mean >= 350, "{mean} kbit/s of video on average: {video:?}");
}

#[test]
fn a_raise_that_pauses_thumbnails_is_not_made_at_every_swing_of_the_link() {
    // A link whose capacity swings by a third every five seconds (0.9 and 1.2 Mbit/s), as
    // GCC's estimate swings on the impair run's 1 Mbit/s link (0.9-1.2 Mbit/s, every five to
    // ten seconds). At its highs the teacher's 360p layer fits with a thumbnail paused for
    // it; at its lows not even alone. Raised at every high, she was lowered at every low and
    // the thumbnail given back: three runs, her layer changed 9-11 times in 60 s and 16-20
    // thumbnails were paused. A raise that takes from another video must now fit what the
    // link sustained over 10 s: 0-2 changes of her layer in 26 runs; on 2026-12-07, 0 in 51
    // of 63 runs, 2 in 6 and 4 in 6 (the simulation is not deterministic: SSRCs, the
    // wall clock of `abs-send-time`), with the code of the days before as with that day's,
    // so the bound is 4 changes, well below a raise at every high (12). Thumbnails are still
    // paused 5-17 times (12 runs): one comes and goes as the capacity does, which is the link
    // changing, not the allocator flapping; the bound on them only catches a storm.
    let mut sim = class(45, 6);
    let viewer = 6;
    sim.clients[viewer].downlink_rate = Some(900_000);
    sim.clients[viewer].downlink_queue = Duration::from_millis(300);
    sim.run_for(Duration::from_secs(20));
    let teacher = sim.clients[0].id;
    let mut was: Vec<(aula_sfu::ParticipantId, bool)> = Vec::new();
    let mut paused = 0;
    let mut teacher_layers = Vec::new();
    let mut with_students = 0;
    for step in 0..120 {
        let high = (step / 10) % 2 == 1;
        sim.clients[viewer].downlink_rate = Some(if high { 1_200_000 } else { 900_000 });
        sim.run_for(Duration::from_millis(500));
        let me = subscriber(&sim, viewer);
        let now: Vec<_> = me.videos.iter().map(|v| (v.publisher, v.paused)).collect();
        paused += (now.iter())
            .filter(|(p, on)| *on && was.iter().any(|(q, before)| q == p && !before))
            .count();
        was = now;
        let layer = (me.videos.iter())
            .find(|v| v.publisher == teacher)
            .and_then(|v| v.layer.map(|l| l.index));
        if teacher_layers.last() != Some(&layer) {
            teacher_layers.push(layer);
        }
        // Steady is not empty: the teacher always flows, and a thumbnail most of the time.
        assert!(layer.is_some(), "{me:?}");
        let students = (me.videos.iter()).filter(|v| v.publisher != teacher && v.layer.is_some());
        with_students += usize::from(students.count() >= 1);
    }
    println!("half seconds with a thumbnail: {with_students} of 120");
    assert!(
        with_students >= 80,
        "a thumbnail in {with_students} of 120 half seconds"
    );
    println!("thumbnails paused in 60 s: {paused}; the teacher's layers: {teacher_layers:?}");
    assert!(
        teacher_layers.len() <= 5,
        "the teacher's layers: {teacher_layers:?}"
    );
    assert!(paused <= 24, "{paused} thumbnails paused in 60 s");
}

#[test]
fn the_teacher_is_never_paused_while_a_student_video_flows() {
    let mut sim = class(42, 4);
    let viewer = 4;
    // Plenty, then far too little, then some again.
    for rate in [3_000_000, 250_000, 900_000] {
        sim.clients[viewer].downlink_rate = Some(rate);
        for _ in 0..20 {
            sim.run_for(Duration::from_millis(500));
            let me = subscriber(&sim, viewer);
            let teacher = &sim.clients[0].id;
            let teacher_on = me
                .videos
                .iter()
                .any(|v| v.publisher == *teacher && v.layer.is_some());
            let others_on = me
                .videos
                .iter()
                .any(|v| v.publisher != *teacher && v.layer.is_some());
            assert!(teacher_on || !others_on, "at {rate} bit/s: {me:?}");
        }
    }
}

/// When client `viewer` first got a frame of `publisher`'s camera again after `since`: the
/// first frame after it whose media time jumps by more than a second (a pause's end).
fn resumed_at(sim: &Sim, viewer: usize, publisher: usize, since: Instant) -> Option<Instant> {
    let video = sim.frames(viewer, publisher, Kind::Video);
    video
        .windows(2)
        .find(|w| w[1].at > since && w[1].rtp_time > w[0].rtp_time + 90_000)
        .map(|w| w[1].at)
}

#[test]
fn after_a_pause_the_teachers_video_comes_back_before_the_students() {
    // Everyone's video paused on a link that carries only the voices; then room for all.
    // Each comes back from a keyframe; the students' thumbnails, smaller, would arrive first
    // and play while the teacher's tile stays blank. They come back once hers flows.
    // (The four voices, 76 kbit/s each here, fill 95 % of the link. The teacher's camera
    // stays capped rather than paused while the estimate stands 21 % over it (three quarters
    // of her floor beside the voices), and comes back from a pause at 29 %. At 350 kbit/s
    // those were 11 and 18 %, and an estimate of 412 kbit/s was seen.)
    let mut sim = class(47, 4);
    let viewer = 4;
    sim.clients[viewer].downlink_rate = Some(3_000_000);
    sim.run_for(Duration::from_secs(8));
    sim.clients[viewer].downlink_rate = Some(320_000);
    sim.run_for(Duration::from_secs(15));
    let me = subscriber(&sim, viewer);
    assert!(
        me.videos.iter().all(|v| v.layer.is_none()),
        "all paused: {me:?}"
    );
    sim.clients[viewer].downlink_rate = Some(3_000_000);
    let recovered = sim.now;
    sim.run_for(Duration::from_secs(20));
    let teacher = resumed_at(&sim, viewer, 0, recovered).expect("the teacher back");
    for student in 1..viewer {
        let back = resumed_at(&sim, viewer, student, recovered);
        assert!(
            back.is_some_and(|t| t >= teacher),
            "student {student} back at {:?}, the teacher at {:?}",
            back.map(|t| t - recovered),
            teacher - recovered
        );
    }
}

#[test]
fn encodings_nobody_takes_are_switched_off_at_the_publisher_and_on_again() {
    let mut sim = class(43, 3);
    sim.run_for(Duration::from_secs(6));
    // Student 1 is a thumbnail for student 3 and not shown by the others (no view: middle
    // layer): its 720 layer is taken by nobody.
    let on = |sim: &Sim, i: usize| sim.clients[i].layers_on;
    assert_eq!(
        on(&sim, 1),
        [true, true, false],
        "{:?}",
        sim.clients[1].encodings
    );
    // Someone shows student 1 large: its 720 layer comes back and reaches them.
    sim.view(2, &[(1, Source::Camera, 720)]);
    let asked = sim.now;
    sim.run_for(Duration::from_secs(8));
    assert!(on(&sim, 1)[2], "the 720p encoding is on again");
    let large = sim
        .frames(2, 1, Kind::Video)
        .iter()
        .filter(|f| f.at > asked && f.tag == 2)
        .count();
    assert!(large > 30, "{large} frames of the 720 layer");
    assert!(sim.worker.stats().encodings_paused >= 1);
    assert!(sim.worker.stats().encodings_resumed >= 1);
}

#[test]
fn an_encoding_its_page_stopped_by_itself_is_not_switched_off_and_on_in_a_loop() {
    // The teacher's uplink is too thin for her 720p: her browser stops sending it by itself,
    // while a pupil shows her large. Switched off for want of takers, it was offered again as
    // one that comes back when asked, given, switched on, gone again: every few seconds, a
    // `setParameters` at her page each time.
    let mut sim = class(48, 2);
    sim.run_for(Duration::from_secs(5));
    sim.clients[0].layers_withheld[2] = true;
    let withheld = sim.now;
    sim.run_for(Duration::from_secs(30));
    let told: Vec<_> = (sim.clients[0].encodings.iter())
        .filter(|e| e.0 > withheld && e.1 == Source::Camera)
        .map(|e| (e.0 - withheld, e.2.clone()))
        .collect();
    assert!(told.len() <= 1, "told {} times: {told:?}", told.len());
    // The pupil who shows her large gets her 360p meanwhile, and her 720p once it comes back.
    let me = subscriber(&sim, 2);
    let teacher = me.videos.iter().find(|v| v.publisher == sim.clients[0].id);
    assert!(
        teacher.and_then(|v| v.layer).is_some_and(|l| l.index == 1),
        "{me:?}"
    );
    sim.clients[0].layers_withheld[2] = false;
    sim.run_for(Duration::from_secs(5));
    let me = subscriber(&sim, 2);
    let teacher = me.videos.iter().find(|v| v.publisher == sim.clients[0].id);
    assert!(
        teacher.and_then(|v| v.layer).is_some_and(|l| l.index == 2),
        "{me:?}"
    );
}

#[test]
fn a_layer_switched_on_again_is_given_out_before_its_first_packet_comes() {
    // Both pupils show the teacher large, so nobody takes her 180p and it is switched off at
    // her page, which takes 1.2 s to switch an encoding on again (an old laptop). A pupil's
    // link falls to where only that layer fits: it is switched on, and until its first packet
    // it must still count as hers to give. Counted as gone, she was paused at the next
    // decision.
    let mut sim = class(49, 2);
    sim.view(1, &[(0, Source::Camera, 720), (2, Source::Camera, 180)]);
    sim.clients[0].encodings_latency = Duration::from_millis(1200);
    sim.run_for(Duration::from_secs(8));
    assert!(
        !sim.clients[0].layers_on[0],
        "{:?}",
        sim.clients[0].encodings
    );
    sim.clients[2].downlink_rate = Some(500_000);
    let fell = sim.now;
    let mut looks = Vec::new();
    for _ in 0..100 {
        sim.run_for(Duration::from_millis(100));
        let me = subscriber(&sim, 2);
        let teacher = me.videos.iter().find(|v| v.publisher == sim.clients[0].id);
        looks.push(teacher.map(|v| (v.paused, v.layer.map(|l| l.index))));
    }
    let paused = looks.iter().filter(|l| l.is_some_and(|(p, _)| p)).count();
    assert_eq!(paused, 0, "{looks:?}");
    // Meanwhile her 720p, which the link cannot carry, stopped at once: not run on until the
    // 180p's first keyframe (the link's own queue lets through what it held).
    let large = (sim.frames(2, 0, Kind::Video).iter())
        .filter(|f| f.at > fell + Duration::from_millis(800) && f.tag == 2)
        .count();
    assert!(large <= 3, "{large} frames of her 720p after the fall");
    assert!(sim.clients[0].layers_on[0], "switched on again");
    assert_eq!(looks.last(), Some(&Some((false, Some(0)))), "{looks:?}");
}

#[test]
fn an_encoding_switched_on_again_counts_what_it_sent_before_it_was_switched_off() {
    // Student 1's 720p layer, shown large by student 2, then not for 15 s (switched off at
    // the page), then large again: it sends what it did before within a frame or two, and
    // counts so, not what a rate measured down towards nothing over the pause would say.
    let mut sim = class(49, 3);
    let (viewer, student) = (2, 1);
    sim.view(viewer, &[(student, Source::Camera, 720)]);
    sim.run_for(Duration::from_secs(8));
    let large = |sim: &Sim| {
        let me = subscriber(sim, viewer);
        let v = me
            .videos
            .iter()
            .find(|v| v.publisher == sim.clients[student].id);
        v.and_then(|v| v.layer).filter(|l| l.index == 2)
    };
    let before = large(&sim).expect("the 720p layer").bitrate;
    sim.view(viewer, &[(student, Source::Camera, 180)]);
    sim.run_for(Duration::from_secs(15));
    assert!(
        !sim.clients[student].layers_on[2],
        "switched off at the page"
    );
    sim.view(viewer, &[(student, Source::Camera, 720)]);
    let asked = sim.now;
    let mut counted = None;
    while counted.is_none() && sim.now < asked + Duration::from_secs(3) {
        sim.run_for(Duration::from_millis(100));
        counted = large(&sim).filter(|_| sim.clients[student].layers_on[2]);
    }
    // Give the meter a measurement or two of the layer sending again.
    sim.run_for(Duration::from_secs(1));
    let after = large(&sim).expect("the 720p layer again").bitrate;
    println!("720p layer counted at {before} bit/s before, {after} after");
    assert!(
        (before * 7..=before * 12).contains(&(after * 10)),
        "{after} bit/s counted, {before} before the pause"
    );
    // And it is measured again, not frozen there: the scene calms, the layer sends half.
    sim.clients[student].layer_bytes[2] /= 2;
    sim.run_for(Duration::from_secs(5));
    let calm = large(&sim).expect("the 720p layer still").bitrate;
    assert!(
        calm * 10 <= before * 6,
        "{calm} bit/s counted at half the frame size"
    );
}

#[test]
fn a_room_budget_holds_and_keeps_the_teachers_video_and_all_audio() {
    let mut sim = Sim::with_room_limit(44, 2_400_000);
    for i in 0..5 {
        sim.join();
        sim.clients[i].simulcast = true;
        sim.publish(i);
    }
    sim.set_host(0, true);
    for v in 1..5 {
        let tiles: Vec<_> = (0..5)
            .filter(|p| *p != v)
            .map(|p| (p, Source::Camera, if p == 0 { 720 } else { 360 }))
            .collect();
        sim.view(v, &tiles);
    }
    sim.run_for(Duration::from_secs(10));
    let start = sim.now;
    let packets_before = sim.datagrams_to_clients;
    sim.run_for(Duration::from_secs(10));
    let report = sim.report.clone().expect("a report");
    let total: u64 = report.subscribers.iter().map(|s| s.allocated).sum();
    assert!(
        total <= 2_400_000,
        "allocated {total} of 2.4 Mbit/s: {report:?}"
    );
    let sent: u64 = (1..5).map(|v| arrived_unshaped(&sim, v, start)).sum();
    assert!(
        sent <= 2_640_000,
        "sent {sent} bit/s, budget 2.4 Mbit/s (+10 %)"
    );
    assert!(sim.datagrams_to_clients > packets_before);
    for v in 1..5 {
        let teacher = sim.frames(v, 0, Kind::Video);
        assert!(
            teacher.iter().filter(|f| f.at >= start).count() > 150,
            "student {v} sees the teacher"
        );
        for p in (0..5).filter(|p| *p != v) {
            let audio = sim.frames(v, p, Kind::Audio);
            assert!(
                audio.iter().filter(|f| f.at >= start).count() > 400,
                "audio {p}->{v}"
            );
        }
    }
}

/// Bit/s of RTP (payload + overhead) client `v` received since `start`, unshaped links.
fn arrived_unshaped(sim: &Sim, v: usize, start: Instant) -> u64 {
    let secs = (sim.now - start).as_secs_f64();
    let bytes: usize = sim.clients[v]
        .received
        .iter()
        .filter(|r| r.at >= start)
        .map(|r| r.size + 70)
        .sum();
    (bytes as f64 * 8.0 / secs) as u64
}

#[test]
fn below_100_kbit_s_a_subscriber_gets_audio_only_and_video_comes_back_with_the_link() {
    // The teacher and one student: one audio stream (76 kbit/s in this harness) fits.
    let mut sim = class(45, 1);
    let viewer = 1;
    sim.run_for(Duration::from_secs(5));
    sim.clients[viewer].downlink_rate = Some(90_000);
    sim.run_for(Duration::from_secs(15));
    let me = subscriber(&sim, viewer);
    assert!(me.audio_only, "{me:?}");
    let told = sim.clients[viewer].bandwidth.last().expect("told");
    assert!(
        told.2 && told.1.len() == 1,
        "video paused, own link limited: {told:?}"
    );
    let quiet = sim.now;
    sim.run_for(Duration::from_secs(3));
    let video = sim.frames(viewer, 0, Kind::Video);
    assert_eq!(video.iter().filter(|f| f.at > quiet).count(), 0);
    let audio = sim.frames(viewer, 0, Kind::Audio);
    let heard = audio.iter().filter(|f| f.at > quiet).count();
    assert!(
        heard > 100,
        "audio goes on: {heard} frames in 3 s, {} datagrams dropped by the link",
        sim.clients[viewer].downlink_dropped
    );

    sim.clients[viewer].downlink_rate = Some(2_000_000);
    let recovered = sim.now;
    sim.run_for(Duration::from_secs(20));
    let video = sim.frames(viewer, 0, Kind::Video);
    let back: Vec<_> = video.iter().filter(|f| f.at > recovered).collect();
    assert!(back.len() > 100, "video comes back: {} frames", back.len());
    // Frames from before the pause may come first (late ones str0m's pacer still held, sent
    // once the link grows); the stream after the pause begins where the media time jumps by
    // the pause, and there it begins with a keyframe.
    let resumed = video
        .windows(2)
        .find(|w| w[1].at > recovered && w[1].rtp_time > w[0].rtp_time + 90_000)
        .map(|w| w[1]);
    assert!(
        resumed.is_some_and(|f| f.keyframe),
        "from a keyframe: {resumed:?}"
    );
    assert!(!subscriber(&sim, viewer).audio_only);
}

#[test]
fn without_adaptation_layers_follow_the_tiles_alone() {
    // bandwidth_adaptation = false, only to measure what adaptation saves: a weak link gets
    // what its tiles call for anyway, and no encoding is switched off at the source.
    let mut sim = Sim::without_adaptation(46);
    for i in 0..4 {
        sim.join();
        sim.clients[i].simulcast = true;
        sim.publish(i);
    }
    sim.set_host(0, true);
    let viewer = 3;
    sim.view(
        viewer,
        &[
            (0, Source::Camera, 720),
            (1, Source::Camera, 180),
            (2, Source::Camera, 180),
        ],
    );
    sim.clients[viewer].downlink_rate = Some(300_000);
    sim.run_for(Duration::from_secs(15));
    let me = subscriber(&sim, viewer);
    assert!(!me.limited, "{me:?}");
    assert!(me.videos.iter().all(|v| v.layer.is_some()), "{me:?}");
    let teacher = me.videos.iter().find(|v| v.publisher == sim.clients[0].id);
    assert_eq!(
        teacher.and_then(|v| v.layer).map(|l| l.index),
        Some(2),
        "{me:?}"
    );
    assert!(
        sim.clients[viewer].downlink_dropped > 0,
        "the link overflows"
    );
    for i in 0..4 {
        assert!(
            sim.clients[i].encodings.is_empty(),
            "client {i} told nothing"
        );
    }
    assert_eq!(sim.worker.stats().encodings_paused, 0);
}

/// A class of a teacher and six students whose last student's link carries 2.5 Mbit/s for
/// 20 s and then `rate` for 15 s, through a queue of `queue`: the run, and when the link fell.
fn drop_to(seed: u64, rate: u64, queue: Duration) -> (Sim, Instant) {
    let mut sim = class(seed, 6);
    let viewer = 6;
    // The teacher's page answers a keyframe request a round trip and a few frames later.
    sim.clients[0].keyframe_latency = Duration::from_millis(100);
    sim.clients[viewer].downlink_rate = Some(2_500_000);
    sim.clients[viewer].downlink_queue = queue;
    sim.run_for(Duration::from_secs(20));
    let drop = sim.now;
    sim.clients[viewer].downlink_rate = Some(rate);
    sim.run_for(Duration::from_secs(15));
    (sim, drop)
}

#[test]
fn after_a_drop_the_server_sends_within_the_new_capacity_in_seconds_and_audio_goes_on() {
    // RFC 8867 5.1's drop: a link of 2.5 Mbit/s falls to 600 kbit/s.
    let viewer = 6;
    let (sim, drop) = drop_to(43, 600_000, Duration::from_millis(300));

    // Offered to the link per half second, bit/s, from the drop on.
    let offered: Vec<u64> = (0..30)
        .map(|i| {
            let half = Duration::from_millis(500);
            offered(&sim, viewer, drop + half * i, half)
        })
        .collect();
    println!(
        "offered after the drop, kbit/s per 0.5 s: {:?}",
        offered.iter().map(|r| r / 1000).collect::<Vec<_>>()
    );
    // Within 10 % of the capacity (GCC's own probing wobbles by a few percent) 8 s after the
    // drop at the latest, and within 5 % of it on average from then on. Measured 1.0 s (1.5–
    // 4.5 s before what of a lowered layer waits in str0m's pacer queue was dropped on a link
    // that loses packets; 2.0 s before a falling estimate was acted on at once and a layer the
    // link no longer carries was cut; 4–7 s before str0m's pacer was drained within a poll): GCC takes about a second
    // to see the drop, and what str0m's pacer queued while the estimate was higher goes on
    // after the allocator lowered the layers (issue 11's target is 2 s; forwarding video
    // unpaced met it in this test but broke str0m's probing, see sfu/src/room/subscribe.rs).
    // The link was found overflowing (a fifth of its packets lost behind the full queue) and
    // decided on what it delivered, at once: from half a second after the drop to one and a
    // half, 0.51-0.63 Mbit/s offered on average (0.73 on GCC's estimate alone, which lowered
    // the layers only half a second after the queue overflowed, and then by half). The first
    // half second goes on the feedback's round trip and the full queue: 1.53-2.07 Mbit/s
    // with the watch (2.06 without), as str0m's feedback happens to show the first fifth lost.
    assert!(
        sim.worker.stats().links_overflowing >= 1,
        "no overflow seen"
    );
    let next_second = (offered[1] + offered[2]) / 2;
    assert!(
        next_second <= 660_000,
        "{next_second} bit/s offered from 0.5 to 1.5 s after the drop"
    );
    let back = offered.iter().position(|r| *r <= 660_000).expect("back");
    assert!(
        back <= 16,
        "over capacity for {} s after the drop",
        back as f64 / 2.0
    );
    let rest = &offered[back..];
    let mean = rest.iter().sum::<u64>() / rest.len() as u64;
    assert!(
        mean <= 630_000,
        "{mean} bit/s on average after getting back"
    );
    for s in 0..6 {
        let audio = sim.frames(viewer, s, Kind::Audio);
        let after = audio
            .iter()
            .filter(|f| f.at >= drop + Duration::from_secs(5));
        assert!(after.count() > 9 * 45, "audio of {s} goes on");
    }
    // The teacher's 720p layer, which the link no longer carried, stopped at the end of a
    // frame instead of running on until the lower layer's keyframe; her video went on from a
    // keyframe of a lower one (the link may have dropped its first packets). A cut needs a
    // keyframe that comes later than the frame's end: when the harness's teacher answered
    // with her next frame, a lower layer switched back on at the source had its keyframe out
    // before the 720p frame ended, and the switch needed no cut (1 run in 30, where GCC's
    // estimate fell in steps instead of at once: runs are not the same each time whatever
    // the harness's seed; str0m draws random numbers of its own, and seeding its generator
    // did not make them repeat either). With 100 ms, 40 of 40 cut.
    assert!(sim.worker.stats().layers_cut >= 1, "no layer cut");
    // What of the lowered layer still waited in str0m's pacer queue went with the cut or the
    // switch, instead of being paced out into the full link.
    assert!(
        sim.worker.stats().cut_packets_dropped >= 1,
        "nothing dropped from the pacer's queue"
    );
    // Her video went on from a keyframe of a lower layer; or, in a rarer path (3 runs in 40;
    // GCC's estimate falling in steps), that keyframe was lost on the full link and she was
    // paused with every camera before another got through (six microphones take most of
    // 600 kbit/s). Either way her 720p layer is gone for good.
    let teacher = sim.frames(viewer, 0, Kind::Video);
    let lower = (teacher.iter()).any(|f| f.at > drop && f.tag < 2 && f.keyframe);
    let id = sim.clients[0].id;
    let paused = (subscriber(&sim, viewer).videos.iter()).any(|v| v.publisher == id && v.paused);
    assert!(
        lower || paused,
        "the teacher's video neither lower nor paused"
    );
    let late = sim.now - Duration::from_secs(5);
    let high = (teacher.iter())
        .filter(|f| f.at > late && f.tag == 2)
        .count();
    assert_eq!(high, 0, "the teacher's 720p frames in the last 5 s");
}

#[test]
fn a_link_that_loses_at_random_is_not_taken_for_one_that_overflows() {
    // Bad Wi-Fi: a quarter of every packet lost, and no queue. Lost packets alone are not an
    // overflowing queue, and what arrives of what is sent is not the link's capacity: taken
    // for one, each decision would lower what is sent to what arrived of the last.
    let viewer = 6;
    let mut sim = class(47, 6);
    sim.clients[viewer].downlink_loss = 0.25;
    sim.clients[viewer].downlink_delay = Duration::from_millis(40);
    sim.run_for(Duration::from_secs(15));
    assert_eq!(sim.worker.stats().links_overflowing, 0);
    // The same link with a queue that overflows is seen as such: 200 kbit/s, less than the
    // six voices alone (whatever GCC made of the lossy link before).
    sim.clients[viewer].downlink_loss = 0.0;
    sim.clients[viewer].downlink_rate = Some(200_000);
    sim.clients[viewer].downlink_queue = Duration::from_millis(300);
    sim.run_for(Duration::from_secs(5));
    assert!(sim.worker.stats().links_overflowing >= 1);
}

#[test]
fn on_a_link_that_queues_but_loses_nothing_a_lowered_layer_runs_on_to_its_switch() {
    // A link whose queue never overflows (a deep buffer; or, on a busy server, feedback that
    // arrives late): GCC's estimate falls with the delay, and the teacher's layer is lowered,
    // but nothing is lost, so the 720p layer runs on until the lower one's keyframe instead of
    // stopping at a frame's end and freezing the tile until it comes.
    let viewer = 6;
    let (sim, drop) = drop_to(44, 1_200_000, Duration::from_secs(60));

    assert_eq!(
        sim.clients[viewer].downlink_dropped, 0,
        "the link lost nothing"
    );
    let teacher = sim.frames(viewer, 0, Kind::Video);
    let before = teacher.iter().rfind(|f| f.at <= drop);
    assert_eq!(
        before.map(|f| f.tag),
        Some(2),
        "the teacher at 720p before the drop"
    );
    let lower = teacher.iter().find(|f| f.at > drop && f.tag < 2);
    let lower = lower.expect("the teacher's video lowered");
    assert!(lower.keyframe, "the lower layer starts at its keyframe");
    assert_eq!(
        sim.worker.stats().layers_cut,
        0,
        "a layer cut on a lossless link"
    );
    assert_eq!(
        sim.worker.stats().cut_packets_dropped,
        0,
        "packets dropped from the pacer's queue on a lossless link"
    );
    // Running on to the switch: no gap in the teacher's frames longer than the queue's
    // growth and a keyframe's round trip.
    let after: Vec<Instant> = (teacher.iter())
        .filter(|f| f.at > drop && f.at <= lower.at)
        .map(|f| f.at)
        .collect();
    let gap = after
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    println!(
        "lowered {:?} after the drop, longest gap before {gap:?}",
        lower.at - drop
    );
    assert!(gap < Duration::from_millis(500), "{gap:?} without a frame");
}

#[test]
fn a_screen_share_that_does_not_fit_is_capped_at_its_publisher_not_paused() {
    // The teacher shares her screen (about 720 kbit/s here) beside her camera; one student's
    // link carries 600 kbit/s, the other's anything.
    let (mut sim, _) = share_on_a_thin_link(47, 600_000);
    let viewer = 2;
    let me = subscriber(&sim, viewer);
    let screen = me.videos.iter().find(|v| v.source == Source::Screen);
    assert!(
        screen.is_some_and(|v| !v.paused && v.layer.is_some()),
        "{me:?}"
    );
    let since = sim.now - Duration::from_secs(5);
    let frames = |i: usize| {
        sim.frames(i, 0, Kind::Video)
            .iter()
            .filter(|f| f.at >= since && f.source == Source::Screen)
            .count()
    };
    assert!(
        frames(viewer) >= 5,
        "the share goes on, slower: {}",
        frames(viewer)
    );
    assert!(frames(1) >= 5, "for the other student too");
    // What the server offers the link, within 10 % of it (GCC's probing wobbles; the share
    // whole would be 1 Mbit/s).
    let rate = offered_last_10s(&sim, viewer);
    assert!(rate <= 660_000, "{rate} bit/s offered to a 600 kbit/s link");
    let camera = sim.frames(viewer, 0, Kind::Video);
    assert!(
        camera
            .iter()
            .filter(|f| f.at >= since && f.source == Source::Camera)
            .count()
            > 100,
        "the teacher's camera keeps flowing"
    );

    // The link recovers: the cap is lifted.
    sim.clients[viewer].downlink_rate = Some(5_000_000);
    sim.run_for(Duration::from_secs(30));
    assert_eq!(sim.clients[0].screen_caps.last().map(|c| c.1), Some(None));
}

#[test]
fn a_share_far_over_its_cap_that_keeps_to_it_is_not_taken_for_one_that_ignores_it() {
    // The teacher shares a video (some 1.3 Mbit/s here) and a pupil's link falls to where
    // the share is capped at a sixth of that or less. Her page keeps to the cap at once, but a rate
    // smoothed over seconds still remembered the rate from before: judged ignored, the cap
    // was dropped and the share paused for that pupil for a minute.
    let mut sim = class(50, 2);
    sim.clients[0].video_bytes = 6_250;
    sim.run_for(Duration::from_secs(2));
    assert!(sim.renegotiate_publish(0, true, true, true));
    let tiles = [(0, Source::Screen, 1080), (0, Source::Camera, 180)];
    sim.view(1, &tiles);
    sim.view(2, &tiles);
    let caps = caps_on_a_thin_link(&mut sim, 2, 450_000, |c| &c.screen_caps);
    let lowest = caps.iter().filter_map(|c| c.1).min();
    assert!(lowest.is_some_and(|c| c * 6 < 1_300_000), "{caps:?}");
    let stats = sim.worker.stats();
    assert_eq!(stats.caps_ignored, 0, "{caps:?}");
    let me = subscriber(&sim, 2);
    let screen = me.videos.iter().find(|v| v.source == Source::Screen);
    assert!(screen.is_some_and(|v| !v.paused), "{me:?}");
}

#[test]
fn a_static_slide_s_frames_reach_the_class_frame_by_frame() {
    // A slide left up: a share's frame comes only about once a second (Chrome repeats an
    // unchanged screen's frame at 1 fps). Taken as a stopped layer between two frames, the
    // share was taken from its subscribers at a decision, and the next frame waited for a
    // keyframe.
    let mut sim = class(51, 2);
    sim.run_for(Duration::from_secs(2));
    assert!(sim.renegotiate_publish(0, true, true, true));
    let tiles = [(0, Source::Screen, 1080), (0, Source::Camera, 180)];
    sim.view(1, &tiles);
    sim.view(2, &tiles);
    sim.run_for(Duration::from_secs(5));
    // One frame (3,000 bytes) every 1.2 s.
    sim.clients[0].screen_content = Some(20_000);
    sim.run_for(Duration::from_secs(5));
    let (start, asked) = (sim.now, sim.clients[0].keyframe_requests.len());
    sim.run_for(Duration::from_secs(20));
    for viewer in [1, 2] {
        let shown = (sim.frames(viewer, 0, Kind::Video).iter())
            .filter(|f| f.at >= start && f.source == Source::Screen)
            .count();
        assert!(shown >= 15, "{viewer}: {shown} frames of the slide in 20 s");
    }
    let asked = sim.clients[0].keyframe_requests.len() - asked;
    assert!(
        asked <= 2,
        "{asked} keyframe requests for a slide that stays"
    );
}

#[test]
fn the_teachers_camera_makes_way_for_her_capped_share_and_comes_back() {
    // The share shown large, her camera small, beside two voices (76 kbit/s each on the wire
    // in this harness): on a 420 kbit/s link the share fits capped at its floor or more, but
    // not with the camera's lowest layer beside it. The slides are kept, the camera paused.
    let (mut sim, caps) = share_on_a_thin_link(53, 420_000);
    let viewer = 2;
    let me = subscriber(&sim, viewer);
    let video = |me: &aula_sfu::SubscriberReport, source| {
        me.videos
            .iter()
            .find(|v| v.source == source)
            .cloned()
            .expect("shown")
    };
    let screen = video(&me, Source::Screen);
    assert!(!screen.paused && screen.layer.is_some(), "{me:?}");
    assert!(video(&me, Source::Camera).paused, "{me:?}");
    let frames = |sim: &Sim, source, since: Instant| {
        sim.frames(viewer, 0, Kind::Video)
            .iter()
            .filter(|f| f.at >= since && f.source == source)
            .count()
    };
    let since = sim.now - Duration::from_secs(5);
    assert!(
        frames(&sim, Source::Screen, since) >= 5,
        "the share goes on"
    );
    assert_eq!(
        frames(&sim, Source::Camera, since),
        0,
        "the camera made way"
    );
    let rate = offered_last_10s(&sim, viewer);
    println!("{rate} bit/s offered to a 420 kbit/s link, caps {caps:?}");
    assert!(rate <= 462_000, "{rate} bit/s offered to a 420 kbit/s link");

    // She stays on one slide, which sends a fifth of the cap (GCC's estimate follows what is
    // sent, so padding has to look for her camera's room), and the link recovers: the camera
    // comes back, and the cap is lifted.
    sim.clients[0].screen_content = Some(40_000);
    sim.run_for(Duration::from_secs(5));
    sim.clients[viewer].downlink_rate = Some(5_000_000);
    let recovered = sim.now;
    sim.run_for(Duration::from_secs(30));
    let me = subscriber(&sim, viewer);
    assert!(!video(&me, Source::Camera).paused, "{me:?}");
    let back = sim
        .frames(viewer, 0, Kind::Video)
        .iter()
        .find(|f| f.at >= recovered && f.source == Source::Camera)
        .map(|f| f.at - recovered);
    println!("the camera back {back:?} after the link");
    assert!(
        back.is_some_and(|b| b < Duration::from_secs(10)),
        "{back:?}"
    );
    assert_eq!(sim.clients[0].screen_caps.last().map(|c| c.1), Some(None));
}

#[test]
fn a_teachers_camera_that_does_not_fit_is_capped_at_her_page_not_paused() {
    // Three voices (76 kbit/s each on the wire in this harness) fill 60 % of a 380 kbit/s
    // link: the teacher's lowest layer (about 160 kbit/s here) does not fit beside them,
    // but less of it does, capped at her page. (While GCC counted payloads only, its
    // estimate of some 280-300 kbit/s left her coming and going unless the voices' headers
    // were added back; it counts what the link carries now.) The measured layer (some 137
    // kbit/s) fits whole where the estimate stands 3-7 % over the link (kept or raised):
    // uncapped once it has for a while, never paused.
    let mut sim = class(51, 3);
    let viewer = 3;
    let caps = caps_on_a_thin_link(&mut sim, viewer, 380_000, |c| &c.camera_caps);
    // A new cap is at least the floor and its headroom (69 kbit/s on the wire, 60 told to the
    // encoder); one held may go down to three quarters of the floor (45, 39 told).
    assert!(
        caps.iter()
            .filter_map(|c| c.1)
            .all(|c| (39_000..140_000).contains(&c)),
        "{caps:?}"
    );
    let me = subscriber(&sim, viewer);
    let teacher = sim.clients[0].id;
    for v in &me.videos {
        if v.publisher == teacher {
            assert!(!v.paused && v.layer.is_some_and(|l| l.index == 0), "{me:?}");
        } else {
            assert!(v.paused, "a student's video paused first: {me:?}");
        }
    }
    // Her video flows from 2 s after the first cap to the end, capped or not.
    let since = caps[0].0 + Duration::from_secs(2);
    let frames = sim.frames(viewer, 0, Kind::Video);
    let recent: Vec<_> = frames.iter().filter(|f| f.at >= since).collect();
    assert!(
        recent.len() > 100,
        "her video flows: {} frames",
        recent.len()
    );
    let gap = recent
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .max()
        .unwrap_or_default();
    assert!(gap < Duration::from_millis(500), "{gap:?} without a frame");
    let rate = offered_last_10s(&sim, viewer);
    assert!(rate <= 418_000, "{rate} bit/s offered to a 380 kbit/s link");
    // The other student, on an open link, still gets the layer her tile calls for.
    let other = subscriber(&sim, 1);
    let hers = other.videos.iter().find(|v| v.publisher == teacher);
    assert!(
        hers.is_some_and(|v| v.layer.is_some_and(|l| l.index == 1)),
        "{other:?}"
    );

    // The link recovers: the cap is lifted.
    sim.clients[viewer].downlink_rate = Some(3_000_000);
    sim.run_for(Duration::from_secs(30));
    assert_eq!(sim.clients[0].camera_caps.last().map(|c| c.1), Some(None));
    let me = subscriber(&sim, viewer);
    assert!(
        me.videos
            .iter()
            .find(|v| v.publisher == teacher)
            .is_some_and(|v| v.layer.is_some_and(|l| l.index == 2)),
        "{me:?}"
    );
}

#[test]
fn a_teacher_whose_page_ignores_the_cap_is_paused_where_she_does_not_fit() {
    // As above, but her page goes on sending its lowest layer whole: counting on the cap
    // would send the thin link more than it takes. The cap is dropped (and its lift said),
    // she is paused there as before caps, and not capped again.
    let mut sim = class(51, 3);
    let viewer = 3;
    sim.clients[0].ignores_caps = true;
    sim.run_for(Duration::from_secs(5));
    sim.clients[viewer].downlink_rate = Some(380_000);
    sim.run_for(Duration::from_secs(20));
    // Her whole lowest layer and the voices (some 390 kbit/s) fit only where GCC's estimate
    // climbs a sixth over the link, as it does for a few seconds at a time: judged over the
    // last 10 s, not at one instant of that saw-tooth.
    let teacher = sim.clients[0].id;
    let mut paused = 0;
    for _ in 0..100 {
        sim.run_for(Duration::from_millis(100));
        let me = subscriber(&sim, viewer);
        let hers = me.videos.iter().find(|v| v.publisher == teacher);
        paused += u32::from(hers.is_some_and(|v| v.paused));
    }

    let caps = &sim.clients[0].camera_caps;
    let lifted = caps.iter().position(|c| c.1.is_none());
    assert!(
        caps.first().is_some_and(|c| c.1.is_some())
            && lifted.is_some_and(|i| caps[i..].iter().all(|c| c.1.is_none())),
        "capped, then lifted for good: {caps:?}"
    );
    assert_eq!(sim.worker.stats().caps_ignored, 1);
    assert!(
        paused >= 50,
        "paused in {paused} of 100 looks at the last 10 s"
    );
    let rate = offered_last_10s(&sim, viewer);
    assert!(rate <= 418_000, "{rate} bit/s offered to a 380 kbit/s link");
}

#[test]
fn a_pupil_who_hid_every_video_gets_the_teacher_back_at_once_when_she_shows_her_again() {
    // While only audio flows, the estimate is what GCC makes of the audio: a moment of delay
    // (here the link stalls for two seconds) cuts it to 0.85 of the audio's rate, and from
    // there it climbs by some kbit/s a second. Showing the teacher again must not wait for
    // that: the link carried her a minute ago.
    let mut sim = class(47, 1);
    let viewer = 1;
    sim.clients[viewer].downlink_rate = Some(2_000_000);
    sim.run_for(Duration::from_secs(20));
    let before = subscriber(&sim, viewer).estimate.expect("an estimate");
    sim.view(viewer, &[]);
    sim.run_for(Duration::from_secs(5));
    sim.clients[viewer].downlink_rate = Some(30_000);
    sim.run_for(Duration::from_secs(2));
    sim.clients[viewer].downlink_rate = Some(2_000_000);
    sim.run_for(Duration::from_secs(20));
    let hidden = subscriber(&sim, viewer).estimate.expect("an estimate");
    println!("estimate {before} bit/s with the teacher shown, {hidden} after she was hidden");
    assert!(
        hidden < 200_000,
        "the estimate fell while nothing was shown ({before} → {hidden}): else this test shows nothing"
    );
    let shown = sim.now;
    sim.view(viewer, &[(0, Source::Camera, 720)]);
    sim.run_for(Duration::from_secs(5));
    let teacher = sim.frames(viewer, 0, Kind::Video);
    let back: Vec<_> = teacher.iter().filter(|f| f.at > shown).collect();
    let first = back.first().map(|f| f.at - shown);
    assert!(
        first.is_some_and(|t| t < Duration::from_secs(2)),
        "the teacher's first frame {first:?} after she was shown"
    );
    assert!(
        back.len() > 80,
        "her video flows: {} frames in 5 s",
        back.len()
    );
    let me = subscriber(&sim, viewer);
    assert!(me.estimate.is_some_and(|e| e > 600_000), "{me:?}");
    assert_eq!(sim.worker.stats().estimates_restarted, 1);
}

#[test]
fn a_new_camera_is_not_paused_on_a_guess_before_its_rate_is_measured() {
    // Three cameras without simulcast (as Firefox and Safari send H.264, and as bots do), at
    // about 240 kbit/s each, to a pupil whose link carries 2 Mbit/s: all of it fits. Before
    // the first measurement a 720p layer counts 1.2 Mbit/s, and three of them would not.
    let mut sim = Sim::new(47);
    for i in 0..3 {
        sim.join();
        sim.clients[i].video_bytes = 1000;
        sim.publish(i);
    }
    let viewer = sim.join();
    sim.clients[viewer].downlink_rate = Some(2_000_000);
    let tiles: Vec<(usize, Source, u32)> = (0..3).map(|p| (p, Source::Camera, 360)).collect();
    sim.view(viewer, &tiles);
    sim.run_for(Duration::from_secs(3));

    // Neither paused nor "your connection is limiting video" on a guess.
    let told: Vec<_> = (sim.clients[viewer].bandwidth.iter())
        .filter(|(_, videos, limited)| !videos.is_empty() || *limited)
        .collect();
    assert!(told.is_empty(), "paused or limited on a guess: {told:?}");
    for p in 0..3 {
        let frames = sim.frames(viewer, p, Kind::Video).len();
        assert!(frames > 50, "camera {p}: {frames} frames in 3 s");
    }
}

#[test]
fn the_page_is_told_its_own_link_limits_it_only_once_that_has_lasted() {
    let mut sim = class(48, 4);
    let viewer = 4;
    // An open link: from the join on, never "your connection is limiting video", not even
    // while the estimate is still finding the link.
    sim.clients[viewer].downlink_rate = Some(6_000_000);
    sim.run_for(Duration::from_secs(10));
    let limited = |sim: &Sim| -> Vec<Instant> {
        (sim.clients[viewer].bandwidth.iter())
            .filter(|(_, _, limited)| *limited)
            .map(|(at, _, _)| *at)
            .collect()
    };
    assert_eq!(
        limited(&sim),
        Vec::<Instant>::new(),
        "limited on an open link"
    );

    // A thin link: said, two seconds after the allocator first held the page back, not the
    // moment it did.
    let cut = sim.now;
    sim.clients[viewer].downlink_rate = Some(400_000);
    sim.run_for(Duration::from_secs(10));
    let first = *limited(&sim).first().expect("told the link limits it");
    println!("told {:?} after the link was cut", first - cut);
    assert!(first - cut >= Duration::from_secs(2), "{:?}", first - cut);
    assert!(first - cut <= Duration::from_secs(5), "{:?}", first - cut);

    // Free again: once the video it shows is back, the mark goes.
    sim.clients[viewer].downlink_rate = Some(6_000_000);
    sim.run_for(Duration::from_secs(30));
    let last = sim.clients[viewer].bandwidth.last().expect("told");
    assert!(!last.2, "{last:?}");
    assert!(!subscriber(&sim, viewer).limited);
}

#[test]
fn in_a_meeting_what_the_first_guess_held_back_comes_up_as_soon_as_the_probes_find_room() {
    // Eight on camera, every page showing the seven others large (some 8 Mbit/s), on links
    // that carry anything. Each subscriber's estimate starts from Aula's guess of 1 Mbit/s
    // (`INITIAL_ESTIMATE`), so its first allocation lowers most videos; the probes of the
    // first media find the room within a few seconds. What the guess lowered is not held for
    // UPGRADE_HOLD, and the estimate str0m announces follows the probes instead of averaging
    // them with the guess: every video is at its tile's layer within 4 s of the joins (3.5 s
    // measured; 2 s from a guess of 2.5 Mbit/s, 6.5 s before the announced estimate followed
    // the probes).
    let n = 8;
    let mut sim = Sim::new(61);
    for i in 0..n {
        sim.join();
        sim.clients[i].simulcast = true;
        sim.publish(i);
    }
    for i in 0..n {
        let tiles: Vec<_> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (j, Source::Camera, 720))
            .collect();
        sim.view(i, &tiles);
    }
    let short = |sim: &Sim| -> usize {
        (0..n)
            .map(|i| subscriber(sim, i).videos)
            .map(|v| {
                v.iter()
                    .filter(|v| v.layer.is_none_or(|l| l.index < 2))
                    .count()
            })
            .sum()
    };
    sim.run_for(Duration::from_millis(500));
    assert!(short(&sim) > 0, "the guess holds some back at first");
    sim.run_for(Duration::from_millis(3500));
    assert_eq!(short(&sim), 0, "all at their tiles' layer at 4 s");
    sim.run_for(Duration::from_secs(4));
    assert_eq!(short(&sim), 0, "and still at 8 s");
}

#[test]
fn the_padding_that_looks_for_room_stays_within_a_thin_link() {
    // The impair run's 600 kbit/s phase: six voices take most of it, the teacher's lowest
    // layer is capped beside them or paused, and while it is paused padding windows look
    // for room for it (none while it is capped: the cap fills the room). str0m pads up to
    // what it is told, counted as the link carries it (its payloads until 2026-12-06).
    let viewer = 6;
    // Offered to the link in each whole second from 15 s to 44 s, bit/s, three seeds in a row.
    let mut seconds: Vec<u64> = Vec::new();
    for seed in [53, 54, 55] {
        let mut sim = class(seed, 6);
        sim.clients[viewer].downlink_rate = Some(600_000);
        sim.clients[viewer].downlink_queue = Duration::from_millis(300);
        sim.run_for(Duration::from_secs(45));
        seconds.extend((15..44).map(|s| {
            let from = sim.now - Duration::from_secs(45 - s);
            offered(&sim, viewer, from, Duration::from_secs(1))
        }));
    }
    let kbps: Vec<u64> = seconds.iter().map(|r| r / 1000).collect();
    // Padded up to str0m's estimate itself, four runs: at most 648-663 kbit/s a second, 1-5
    // seconds more than 5 % over. Padded up to 90 % of it (`allocate::link_share`), 21 runs
    // (one in the full suite, under its load): at most 615-646, 0-3 seconds. So this bounds
    // what GCC's own overshoot leaves. One run alone failed now and then (a run's mean 600.3
    // and 612 kbit/s against 600, or a second over 660, in 3 of some 60 runs; 24 runs of
    // seeds 53-58: a run's mean 560-612, its highest second 605-660, and once in CI two runs
    // of one test with 660.x, the two alike to the kilobit: the seed draws nothing here, as
    // nothing is lost; runs differ by what str0m draws of its own). Three runs: the mean over
    // all their seconds, and no second more than 15 % over, which would fill half the 300 ms
    // queue.
    // Padded up to the estimate itself today (9 runs): a run's mean 573-604, its highest
    // second 607-679; little apart, the caps now taking the room the padding looked for, so
    // this bounds the link's load more than it tells the two paddings apart.
    assert!(seconds.iter().all(|r| *r <= 690_000), "{kbps:?}");
    let mean = seconds.iter().sum::<u64>() / seconds.len() as u64;
    assert!(mean <= 600_000, "{mean} bit/s on average: {kbps:?}");
}

#[test]
fn a_link_that_opens_up_is_climbed_in_steps_that_hold() {
    // RFC 8867 5.1's rise: the viewer's link goes from 1 to 2.5 Mbit/s. Raises go a step
    // above what the link carried, padded first (crate::allocate::step_ceiling): the climb
    // must still get there, and no step may cost a fall of the estimate.
    let mut sim = class(44, 6);
    let viewer = 6;
    sim.clients[0].keyframe_latency = Duration::from_millis(100);
    sim.clients[viewer].downlink_rate = Some(1_000_000);
    sim.clients[viewer].downlink_queue = Duration::from_millis(300);
    sim.run_for(Duration::from_secs(20));
    let rise = sim.now;
    sim.clients[viewer].downlink_rate = Some(2_500_000);
    let mut seen = Vec::new();
    for _ in 0..60 {
        sim.run_for(Duration::from_millis(500));
        let s = subscriber(&sim, viewer);
        seen.push((s.estimate.unwrap_or(0) / 1000, s.allocated / 1000));
    }
    println!("estimate / allocated, kbit/s per 0.5 s after the rise: {seen:?}");
    // Measured: every layer (the teacher's 720p, five thumbnails, six voices: some 2,050
    // kbit/s) 10.5-12 s after the rise in 20 runs, each half second's allocation at most about
    // 1.5 times the one before; without the ceiling 9-13 s, in jumps of twice and more (0.62 to
    // 1.41, 0.85 to 1.82 Mbit/s). This harness's link does not show the overuse those jumps met
    // in the impair run, so no fall either way: the test holds the climb and its steps to what
    // the ceiling must not break (docs/benchmarks.md, "A raise a step above what the link
    // carried"). A ceiling that applied below a probe's jump failed it in 3 of some 50 runs (a
    // 1 Mbit/s link held below a thumbnail's step for good). Until str0m's loss controller let
    // a probed capacity bound only a loss-limited estimate, one run in about ten held the
    // estimate at 0.7 Mbit/s throughout (vendor/str0m/AULA.md). Since a raise that takes
    // from other videos must fit the estimate's trough over the last 10 s (crate::sustained),
    // the teacher's 720p layer, which her students' thumbnails make way for at first, waits
    // for the 1 Mbit/s phase to leave those 10 s: every layer 13-18.5 s after the rise in 5
    // runs; the bound went from 22 to 25 s for the margin, the run from 25 to 30 s.
    let all = seen
        .iter()
        .position(|(_, a)| *a >= 2_000)
        .expect("every layer");
    assert!(
        all <= 50,
        "every layer only {} s after the rise",
        all as f64 / 2.0
    );
    let falls = (seen.windows(2))
        .filter(|w| w[0].0 > 1_500 && w[1].0 * 10 < w[0].0 * 6)
        .count();
    assert_eq!(falls, 0, "the estimate fell by 40 % or more");
    let teacher = sim.frames(viewer, 0, Kind::Video);
    let late = sim.now - Duration::from_secs(5);
    assert!(
        teacher.iter().any(|f| f.at > late.max(rise) && f.tag == 2),
        "the teacher's 720p layer"
    );
}
