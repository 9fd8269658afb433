//! Rooms come and go: a participant who leaves disappears from the others' subscriptions, and
//! when the last one leaves the worker holds nothing of the room (no routes, no state).

use crate::common;

use std::time::Duration;

use aula_sfu::{Command, Kind};
use common::Sim;

#[test]
fn leaving_stops_the_leavers_tracks_for_the_others() {
    let mut sim = Sim::new(6);
    for i in 0..3 {
        sim.join();
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(2));
    let leaver = sim.clients[2].id;
    sim.leave(2);
    sim.run_for(Duration::from_millis(200));
    for i in 0..2 {
        let c = &sim.clients[i];
        assert!(
            c.down_tracks.values().all(|(p, _, _)| *p != leaver),
            "the last offer to {i} no longer carries the leaver"
        );
    }
    let count = sim.frames(0, 1, Kind::Video).len();
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(0, 1, Kind::Video).len() > count,
        "the others still talk"
    );
}

#[test]
fn the_last_one_out_frees_everything() {
    let mut sim = Sim::new(7);
    for i in 0..3 {
        sim.join();
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.worker.room_count(), 1);
    let (ufrags, addrs) = sim.worker.route_counts();
    assert_eq!(
        ufrags, 6,
        "publish and subscribe connection per participant"
    );
    assert!(addrs >= 6);

    for i in 0..3 {
        sim.leave(i);
    }
    assert_eq!(sim.worker.room_count(), 0);
    assert_eq!(sim.worker.route_counts(), (0, 0));
    assert_eq!(sim.worker.poll_timeout(), None, "no timers left behind");
}

#[test]
fn closing_a_room_frees_it_with_people_inside() {
    let mut sim = Sim::new(8);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(1));
    let room = sim.room.clone();
    sim.worker.handle_command(sim.now, &room, Command::Close);
    assert_eq!(sim.worker.room_count(), 0);
    assert_eq!(sim.worker.route_counts(), (0, 0));
}
