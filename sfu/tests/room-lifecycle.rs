//! Rooms come and go: a participant who leaves disappears from the others' subscriptions, and
//! when the last one leaves the worker holds nothing of the room (no routes, no state).

use crate::common;

use std::time::Duration;

use aula_sfu::{Command, Kind, ParticipantId};
use common::Sim;

#[test]
fn leaving_stops_the_leavers_tracks_for_the_others() {
    let mut sim = Sim::with_publishers(6, 3);
    sim.run_for(Duration::from_secs(2));
    let leaver = sim.clients[2].id;
    sim.leave(2);
    sim.run_for(Duration::from_millis(200));
    assert_offers_without(&sim, leaver, 0..2);
    assert_still_talks(&mut sim, 0, 1);
}

/// The last offer each of `others` got carries nothing of `gone`'s.
fn assert_offers_without(sim: &Sim, gone: ParticipantId, others: std::ops::Range<usize>) {
    for i in others {
        let c = &sim.clients[i];
        assert!(
            c.down_tracks.values().all(|(p, _, _)| *p != gone),
            "the last offer to {i} no longer carries {gone:?}"
        );
    }
}

/// `to` goes on getting `from`'s video over the next second.
fn assert_still_talks(sim: &mut Sim, to: usize, from: usize) {
    let count = sim.frames(to, from, Kind::Video).len();
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(to, from, Kind::Video).len() > count,
        "{from} still talks to {to}"
    );
}

/// A page closes its publishing peer connection and stays (a teacher's browser dropping its
/// camera's connection), and nothing follows its DTLS close_notify: the server's side closes
/// in the poll that drains the close, and the room lets it go there: it is counted, her
/// streams end for the others, and the others' media goes on. (A room that looked for dead
/// connections only after a poll found one at its start kept this one for good.)
#[test]
fn a_publish_connection_the_page_closes_is_let_go() {
    let mut sim = Sim::with_publishers(21, 3);
    sim.run_for(Duration::from_secs(2));
    let closer = sim.clients[0].id;
    assert!(
        !sim.frames(1, 0, Kind::Video).is_empty(),
        "her video flowed"
    );
    sim.close_publish(0);
    sim.run_for(Duration::from_millis(500));
    assert_eq!(
        sim.worker.stats().conns_failed,
        1,
        "her publish connection went"
    );
    assert_offers_without(&sim, closer, 1..3);
    let hers = sim.frames(1, 0, Kind::Video).len();
    assert_still_talks(&mut sim, 1, 2);
    assert_eq!(
        sim.frames(1, 0, Kind::Video).len(),
        hers,
        "none of hers comes"
    );
}

#[test]
fn the_last_one_out_frees_everything() {
    let mut sim = Sim::with_publishers(7, 3);
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

/// The teacher's reload, as a busy student page saw it in CI: her old streams end (her
/// closing page took its connection with it), the offer that turns their m-lines inactive is
/// still unanswered when her new page publishes the same sources again, so they come on new
/// m-lines next to the inactive ones. Each m-line must have an `a=msid` of its own, or
/// Chromium refuses the whole offer ("Duplicate a=msid lines detected") and the student's
/// subscribe connection is rebuilt.
#[test]
fn a_stream_back_before_the_answer_to_its_end_gets_an_offer_the_browser_takes() {
    let mut sim = Sim::with_publishers(8, 2);
    sim.run_for(Duration::from_secs(2));
    sim.clients[1].slow_answers = true;
    assert!(
        sim.renegotiate_publish(0, false, false, false),
        "her streams end"
    );
    sim.run_for(Duration::from_millis(200));
    let teacher = sim.clients[0].id;
    assert!(
        sim.clients[1]
            .down_tracks
            .values()
            .all(|(p, _, _)| *p != teacher),
        "the offer that ends them reached the student"
    );
    assert!(
        sim.renegotiate_publish(0, true, true, false),
        "and are back"
    );
    sim.run_for(Duration::from_millis(200));
    sim.release_answers(1);
    sim.run_for(Duration::from_secs(2));

    let c = &sim.clients[1];
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.resets, 0, "the same subscribe connection");
    let hers = c.down_tracks.values().filter(|(p, _, _)| *p == teacher);
    assert_eq!(hers.count(), 2, "her audio and video, each on one m-line");
    let since = sim.now - Duration::from_millis(500);
    for kind in [Kind::Audio, Kind::Video] {
        let frames = sim.frames(1, 0, kind);
        assert!(frames.iter().any(|f| f.at > since), "her {kind:?} flows");
    }
}
