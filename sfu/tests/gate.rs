//! Server-enforced mute: while signaling keeps a participant's gate closed, none of that
//! source's media reaches anyone, whatever the client sends, from the next frame on. Reopening
//! a camera asks the publisher for a keyframe, so subscribers see a picture again at once.

use crate::common;

use std::time::{Duration, Instant};

use aula_sfu::{Kind, Source};
use common::Sim;

/// Frames client `i` received from `from` of one kind after `t`.
fn after(sim: &Sim, i: usize, from: usize, kind: Kind, t: Instant) -> usize {
    sim.frames(i, from, kind)
        .iter()
        .filter(|f| f.at > t)
        .count()
}

/// Teacher (0) publishes, student (1) listens; both connected for two seconds.
fn lesson(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    sim
}

#[test]
fn closing_the_microphone_gate_stops_audio_at_once_while_the_camera_flows() {
    let mut sim = lesson(21);
    assert!(sim.frames(1, 0, Kind::Audio).len() > 40);

    let closed = sim.now;
    sim.gate(0, Source::Microphone, false);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        after(&sim, 1, 0, Kind::Audio, closed),
        0,
        "audio after mute"
    );
    assert!(after(&sim, 1, 0, Kind::Video, closed) > 25, "video goes on");
    // The client went on sending: 50 frames a second, all held back.
    assert!(
        sim.worker.stats().frames_gated >= 45,
        "{:?}",
        sim.worker.stats()
    );

    let opened = sim.now;
    sim.gate(0, Source::Microphone, true);
    sim.run_for(Duration::from_secs(1));
    let audio = sim.frames(1, 0, Kind::Audio);
    let resumed: Vec<_> = audio.iter().filter(|f| f.at > opened).collect();
    assert!(resumed.len() > 45, "audio resumes: {}", resumed.len());
    assert!(resumed[0].at - opened <= Duration::from_millis(20));
    assert_eq!(
        resumed[0].first_seq,
        audio[audio.len() - resumed.len() - 1].last_seq + 1
    );
}

#[test]
fn reopening_the_camera_gate_asks_for_a_keyframe_and_video_resumes() {
    let mut sim = lesson(22);
    let closed = sim.now;
    sim.gate(0, Source::Camera, false);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(
        after(&sim, 1, 0, Kind::Video, closed),
        0,
        "video after close"
    );
    assert!(after(&sim, 1, 0, Kind::Audio, closed) > 90, "audio goes on");

    let opened = sim.now;
    sim.gate(0, Source::Camera, true);
    sim.run_for(Duration::from_secs(1));
    let requests = &sim.clients[0].keyframe_requests;
    let asked = requests.iter().find(|t| **t >= opened);
    let asked = asked.expect("the publisher was asked for a keyframe");
    // At once (str0m sends it on its next poll), not only when the next frame turns out not
    // to be a keyframe.
    assert!(
        *asked - opened <= Duration::from_millis(2),
        "{:?}",
        *asked - opened
    );
    let video = sim.frames(1, 0, Kind::Video);
    let first = video.iter().find(|f| f.at > opened).expect("video resumes");
    // The encoder's own keyframes are 10 s apart: this one was asked for.
    assert!(
        first.keyframe,
        "the first frame after reopening is a keyframe"
    );
    assert!(
        first.at - opened < Duration::from_millis(200),
        "{:?}",
        first.at - opened
    );
    assert!(after(&sim, 1, 0, Kind::Video, opened) > 25);
}

#[test]
fn a_gate_closed_before_publishing_holds_across_a_restart() {
    let mut sim = Sim::new(23);
    sim.join();
    sim.gate(0, Source::Microphone, false);
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    assert!(
        sim.frames(1, 0, Kind::Audio).is_empty(),
        "muted from the start"
    );
    assert!(sim.frames(1, 0, Kind::Video).len() > 30);

    sim.publish(0); // a new publish connection: the mute is the participant's
    sim.run_for(Duration::from_secs(2));
    assert!(sim.frames(1, 0, Kind::Audio).is_empty(), "still muted");

    sim.gate(0, Source::Microphone, true);
    sim.run_for(Duration::from_secs(1));
    assert!(sim.frames(1, 0, Kind::Audio).len() > 40);
}

#[test]
fn one_participants_gate_does_not_affect_another() {
    let mut sim = Sim::with_publishers(24, 3);
    sim.run_for(Duration::from_secs(2));
    let closed = sim.now;
    sim.gate(0, Source::Microphone, false);
    sim.gate(0, Source::Camera, false);
    sim.run_for(Duration::from_secs(1));
    for i in [1, 2] {
        for kind in [Kind::Audio, Kind::Video] {
            assert_eq!(after(&sim, i, 0, kind, closed), 0, "{kind:?} of 0 at {i}");
        }
    }
    for (i, from) in [(0, 1), (0, 2), (1, 2), (2, 1)] {
        assert!(
            after(&sim, i, from, Kind::Audio, closed) > 45,
            "{from} to {i}"
        );
        assert!(
            after(&sim, i, from, Kind::Video, closed) > 25,
            "{from} to {i}"
        );
    }
}

#[test]
fn a_gate_for_someone_not_in_the_room_is_ignored() {
    let mut sim = lesson(25);
    let cmd = aula_sfu::Command::Gate {
        participant: aula_sfu::ParticipantId(99),
        source: Source::Microphone,
        open: false,
    };
    let room = sim.room.clone();
    sim.worker.handle_command(sim.now, &room, cmd);
    let t = sim.now;
    sim.run_for(Duration::from_secs(1));
    assert!(sim.clients.iter().all(|c| c.errors.is_empty()));
    assert!(after(&sim, 1, 0, Kind::Audio, t) > 45);
}
