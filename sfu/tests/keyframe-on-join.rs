//! A participant who joins a running lesson sees the teacher's picture at once: the SFU asks
//! the publisher for a keyframe as soon as the new subscription is up, instead of waiting for
//! the encoder's next periodic one (10 s apart in this simulation).

use crate::common;

use std::time::Duration;

use aula_sfu::Kind;
use common::Sim;

#[test]
fn late_joiner_gets_a_keyframe_within_a_second() {
    let mut sim = Sim::new(3);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(4));
    let keyframes_before = sim.clients[0].keyframes_sent;

    let joined_at = sim.now;
    let late = sim.join();
    sim.run_for(Duration::from_secs(2));

    let video = sim.frames(late, 0, Kind::Video);
    let first = video.first().expect("late joiner receives video");
    assert!(first.keyframe, "first frame forwarded is a keyframe");
    let wait = first.at - joined_at;
    assert!(wait < Duration::from_secs(1), "first frame after {wait:?}");
    assert!(
        sim.clients[0].keyframes_sent > keyframes_before,
        "the publisher was asked for a keyframe"
    );
}

#[test]
fn keyframe_requests_of_a_burst_of_joiners_are_limited() {
    let mut sim = Sim::new(4);
    sim.join();
    sim.publish(0);
    sim.run_for(Duration::from_secs(2));
    let before = sim.clients[0].keyframes_sent;
    // Twenty students join within the same 100 ms.
    for _ in 0..20 {
        sim.join();
        sim.run_for(Duration::from_millis(5));
    }
    sim.run_for(Duration::from_secs(2));
    let sent = sim.clients[0].keyframes_sent - before;
    // 2.1 s at most two requests per second, plus the first at once.
    assert!(sent <= 6, "publisher sent {sent} keyframes for 20 joiners");
    for i in 1..=20 {
        assert!(
            !sim.frames(i, 0, Kind::Video).is_empty(),
            "joiner {i} sees video"
        );
    }
}

#[test]
fn a_flood_of_keyframe_requests_from_one_page_reaches_the_publisher_twice_a_second() {
    let mut sim = Sim::new(5);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let before = sim.clients[0].keyframes_sent;
    // Client 1 asks for a keyframe every 5 ms for 3 s.
    for _ in 0..600 {
        sim.request_keyframes(1);
        sim.run_for(Duration::from_millis(5));
    }
    let sent = sim.clients[0].keyframes_sent - before;
    assert!(
        (2..=8).contains(&sent),
        "3 s of requests made the publisher send {sent} keyframes"
    );
    let frames = sim.frames(1, 0, Kind::Video).len();
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(1, 0, Kind::Video).len() > frames + 20,
        "video goes on"
    );
}
