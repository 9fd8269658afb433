//! What the SFU does when networks fail: a participant whose connections go silent is rated
//! `lost` within the silence limit and `good` again once media flows; a lossy link is rated
//! `poor`; ICE restarts on both connections keep media on the same streams, are rate-limited
//! when a client asks in a loop, and an ICE restart that would change the media is refused
//! with the connection left as it was.

use crate::common;

use std::time::Duration;

use aula_sfu::{Kind, Quality};
use common::Sim;

fn three_publishing(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    for i in 0..3 {
        sim.join();
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(3));
    sim
}

/// When client `i` was told `q`, counted from `since`.
fn rated_at(sim: &Sim, i: usize, q: Quality, since: std::time::Instant) -> Option<Duration> {
    let seen = sim.clients[i]
        .quality
        .iter()
        .find(|(at, r)| *r == q && *at >= since);
    seen.map(|(at, _)| *at - since)
}

#[test]
fn a_participant_whose_network_dies_is_lost_and_good_again_when_it_is_back() {
    let mut sim = three_publishing(11);
    let outage = sim.now;
    sim.clients[1].uplink_loss = 1.0;
    sim.clients[1].downlink_loss = 1.0;
    sim.run_for(Duration::from_secs(8));
    let lost = rated_at(&sim, 1, Quality::Lost, outage).expect("rated lost");
    assert!(
        lost >= Duration::from_secs(5) && lost <= Duration::from_millis(6500),
        "lost after {lost:?}"
    );
    for other in [0, 2] {
        assert!(sim.clients[other].quality.is_empty(), "{other} stays good");
    }

    let back = sim.now;
    sim.clients[1].uplink_loss = 0.0;
    sim.clients[1].downlink_loss = 0.0;
    sim.run_for(Duration::from_secs(5));
    let good = rated_at(&sim, 1, Quality::Good, back).expect("good again");
    assert!(good <= Duration::from_secs(3), "good again after {good:?}");
    let video = sim.frames(0, 1, Kind::Video);
    assert!(video.last().expect("video").at > back + Duration::from_secs(3));
}

#[test]
fn a_lossy_uplink_is_rated_poor_and_the_others_stay_good() {
    let mut sim = three_publishing(12);
    let start = sim.now;
    sim.clients[2].uplink_loss = 0.15;
    sim.run_for(Duration::from_secs(10));
    assert!(
        rated_at(&sim, 2, Quality::Poor, start).is_some(),
        "{:?}",
        sim.clients[2].quality
    );
    assert!(rated_at(&sim, 2, Quality::Lost, start).is_none());
    for other in [0, 1] {
        assert!(sim.clients[other].quality.is_empty(), "{other} stays good");
    }
}

#[test]
fn ice_restarts_keep_the_streams_and_a_loop_of_them_is_limited() {
    let mut sim = three_publishing(13);
    let offers = sim.clients[1].offers;
    for _ in 0..6 {
        sim.restart_subscribe_ice(1);
        sim.run_for(Duration::from_millis(200));
    }
    let limited = sim.clients[1]
        .errors
        .iter()
        .filter(|e| e.contains("too many ICE restarts"))
        .count();
    assert_eq!(limited, 3, "{:?}", sim.clients[1].errors);
    assert_eq!(
        sim.clients[1].offers,
        offers + 3,
        "one offer per restart granted"
    );
    assert_eq!(sim.clients[1].resets, 0, "the same connection");

    sim.restart_publish_ice(1);
    let restarted = sim.now;
    sim.run_for(Duration::from_secs(2));
    for (sub, publ) in [(1, 0), (1, 2), (0, 1), (2, 1)] {
        let frames = sim.frames(sub, publ, Kind::Video);
        assert!(
            frames
                .iter()
                .any(|f| f.at > restarted + Duration::from_secs(1)),
            "{sub} keeps receiving from {publ}"
        );
        let mid = frames[0].mid;
        assert!(frames.iter().all(|f| f.mid == mid), "on the same m-line");
    }
    assert_eq!(sim.clients[0].resets + sim.clients[2].resets, 0);
}

#[test]
fn an_ice_restart_that_changes_the_media_is_refused_and_nothing_changes() {
    let mut sim = three_publishing(14);
    let offers: Vec<usize> = sim.clients.iter().map(|c| c.offers).collect();
    sim.restart_publish_ice_changing(0, true);
    let refused = sim.now;
    sim.run_for(Duration::from_secs(2));
    assert!(
        sim.clients[0]
            .errors
            .iter()
            .any(|e| e.contains("an ICE restart must not change the media")),
        "{:?}",
        sim.clients[0].errors
    );
    // The server kept the connection as it was: no stream ended, nobody was offered anything,
    // and the publisher's audio still arrives.
    let now: Vec<usize> = sim.clients.iter().map(|c| c.offers).collect();
    assert_eq!(now, offers);
    let audio = sim.frames(1, 0, Kind::Audio);
    assert!(audio.last().expect("audio").at > refused + Duration::from_secs(1));
}
