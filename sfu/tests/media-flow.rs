//! Three participants publish microphone and camera; each receives both kinds from each other,
//! and never its own media.

use crate::common;

use std::time::Duration;

use aula_sfu::Kind;
use common::Sim;

#[test]
fn everyone_receives_everyone_else() {
    let mut sim = Sim::with_publishers(1, 3);
    sim.run_for(Duration::from_secs(3));

    for i in 0..3 {
        assert!(
            sim.clients[i].errors.is_empty(),
            "{:?}",
            sim.clients[i].errors
        );
        for from in (0..3).filter(|f| *f != i) {
            let audio = sim.frames(i, from, Kind::Audio);
            let video = sim.frames(i, from, Kind::Video);
            // 3 s minus connection set-up: well over a second of 50 fps audio and 30 fps video.
            assert!(
                audio.len() > 50,
                "{i} got {} audio frames from {from}",
                audio.len()
            );
            assert!(
                video.len() > 30,
                "{i} got {} video frames from {from}",
                video.len()
            );
            assert!(
                video[0].keyframe,
                "a subscriber's first video frame is a keyframe"
            );
        }
        let own = sim.clients[i].id;
        assert!(sim.clients[i].received.iter().all(|r| r.from != own));
    }
    let stats = sim.worker.stats();
    assert!(stats.frames_forwarded > 6 * 80, "{stats:?}");
    assert_eq!(stats.rooms, 1);
}

#[test]
fn a_listener_who_does_not_publish_still_receives() {
    let mut sim = Sim::new(2);
    sim.join();
    sim.publish(0);
    sim.join(); // receives only
    sim.run_for(Duration::from_secs(2));
    assert!(sim.frames(1, 0, Kind::Video).len() > 20);
    assert!(sim.frames(1, 0, Kind::Audio).len() > 40);
    assert!(sim.frames(0, 1, Kind::Audio).is_empty());
}

/// str0m's delay-based estimator, without fresh feedback, asks to be woken one round trip
/// later; this simulated network has no delay, so in a connection's first seconds, before its
/// media and feedback flow, it asked at once, again and again: 76,419 timeouts in the first
/// 2 s of this meeting of 4, each a pass over the connection's streams, for 3,396 packets.
/// Such a wake-up waits 2 ms now: a connection is woken about once per packet it sends, as
/// its pacer asks, and the media flows as before.
#[test]
fn connections_are_woken_about_once_per_packet_on_a_link_without_delay() {
    let mut sim = Sim::with_publishers(5, 4);
    sim.run_for(Duration::from_secs(3));
    let stats = sim.worker.stats();
    let (packets, timeouts) = (stats.packets_forwarded, stats.conn_timeouts);
    assert!(packets > 3_000, "{packets} packets forwarded");
    assert!(
        timeouts < 2 * packets,
        "{timeouts} timeouts for {packets} packets forwarded"
    );
    for i in 0..4 {
        for from in (0..4).filter(|f| *f != i) {
            let audio = sim.frames(i, from, Kind::Audio);
            assert!(
                audio.len() > 50,
                "{i} got {} audio frames from {from}",
                audio.len()
            );
        }
    }
}
