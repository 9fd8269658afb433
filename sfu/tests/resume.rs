//! A participant's signaling comes back (`Command::Resume`). Without a reload nothing of its
//! media changes, and an offer the old socket swallowed arrives again. After a reload the
//! subscribe connection is rebuilt (`reset`) and the new page's first publish takes over the
//! old streams without renegotiating anyone; a reloaded page that publishes nothing has its old
//! streams ended after a while, and is not rated lost for its old connection's silence.

use crate::common;

use std::time::Duration;

use aula_sfu::{Kind, Quality};
use common::Sim;

fn class(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    for i in 0..3 {
        sim.join();
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(2));
    sim
}

#[test]
fn an_offer_lost_with_the_socket_arrives_again_on_resume() {
    let mut sim = class(21);
    sim.clients[1].offline = true;
    let newcomer = sim.join();
    sim.publish(newcomer);
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(1, newcomer, Kind::Video).is_empty(),
        "its offer was lost"
    );
    sim.resume(1, false);
    sim.run_for(Duration::from_secs(2));
    assert!(!sim.frames(1, newcomer, Kind::Video).is_empty());
    assert_eq!(sim.clients[1].resets, 0, "the same subscribe connection");
    assert!(
        sim.clients[1].errors.is_empty(),
        "{:?}",
        sim.clients[1].errors
    );
}

#[test]
fn a_reloaded_page_gets_a_new_subscribe_connection_and_keeps_its_streams() {
    let mut sim = class(22);
    let offers: Vec<usize> = sim.clients.iter().map(|c| c.offers).collect();
    sim.resume(0, true); // drops both client connections and publishes on a new one
    let reloaded = sim.now;
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.clients[0].resets, 1);
    for from in [1, 2] {
        let video = sim.frames(0, from, Kind::Video);
        assert!(
            video
                .iter()
                .any(|f| f.at > reloaded + Duration::from_secs(1))
        );
    }
    for i in [1, 2] {
        assert_eq!(sim.clients[i].offers, offers[i], "{i} was not renegotiated");
        let video = sim.frames(i, 0, Kind::Video);
        assert!(
            video
                .iter()
                .any(|f| f.at > reloaded + Duration::from_secs(1))
        );
        let mid = video[0].mid;
        assert!(video.iter().all(|f| f.mid == mid), "the same m-line");
    }
}

#[test]
fn a_reloaded_page_that_publishes_nothing_loses_its_old_streams() {
    let mut sim = class(23);
    let offers = sim.clients[1].offers;
    // The page reloads but now has no camera or microphone: no publish follows. Its old
    // connections hear nothing more (the page that had them is gone).
    sim.clients[0].uplink_loss = 1.0;
    let cmd = aula_sfu::Command::Resume {
        participant: sim.clients[0].id,
        fresh: true,
    };
    let room = sim.room.clone();
    sim.worker.handle_command(sim.now, &room, cmd);
    sim.run_for(Duration::from_secs(12));
    assert!(
        sim.clients[0]
            .quality
            .iter()
            .all(|(_, q)| *q != Quality::Lost),
        "its old publish connection's silence is not its connection: {:?}",
        sim.clients[0].quality
    );
    assert!(
        sim.clients[1].offers > offers,
        "its streams ended for the others"
    );
    let ended = sim.clients[1]
        .down_tracks
        .values()
        .all(|(p, _, _)| *p != sim.clients[0].id);
    assert!(ended);
}
