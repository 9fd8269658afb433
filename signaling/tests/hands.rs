//! Raised hands: an ordered queue everyone sees in `hand`; participants lower their own,
//! hosts lower anyone's.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::{Value, json};

fn hand_of(seen: &[Value], id: &str) -> Option<Value> {
    of_type(seen, "participant_updated")
        .iter()
        .rev()
        .find(|u| u["participant"]["id"] == id)
        .map(|u| u["participant"]["hand"].clone())
}

#[tokio::test]
async fn hands_queue_in_order_and_hosts_lower_them() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    host.sync().await;

    ben.roundtrip(json!({"type": "raise_hand"})).await;
    anna.roundtrip(json!({"type": "raise_hand"})).await;
    // Raising again keeps the place.
    ben.roundtrip(json!({"type": "raise_hand"})).await;
    let seen = host.sync().await;
    let (b, a) = (hand_of(&seen, "p2").unwrap(), hand_of(&seen, "p1").unwrap());
    assert!(
        b.as_u64().unwrap() < a.as_u64().unwrap(),
        "Ben raised first: {seen:?}"
    );
    assert_eq!(of_type(&seen, "participant_updated").len(), 2);

    // Anna cannot lower Ben's hand; she lowers her own; the teacher lowers Ben's.
    anna.send(json!({"type": "lower_hand", "participant": "p2"}))
        .await;
    anna.expect_error("forbidden").await;
    anna.roundtrip(json!({"type": "lower_hand"})).await;
    host.roundtrip(json!({"type": "lower_hand", "participant": "p2"}))
        .await;
    let seen = ben.sync().await;
    assert_eq!(hand_of(&seen, "p1"), Some(Value::Null));
    assert_eq!(hand_of(&seen, "p2"), Some(Value::Null));

    // A hand raised later goes to the end of the queue.
    anna.roundtrip(json!({"type": "raise_hand"})).await;
    let seen = host.sync().await;
    assert!(hand_of(&seen, "p1").unwrap().as_u64().unwrap() > a.as_u64().unwrap());
}

#[tokio::test]
async fn the_teacher_lowers_all_hands_at_once_and_a_student_may_not() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    anna.roundtrip(json!({"type": "raise_hand"})).await;
    ben.roundtrip(json!({"type": "raise_hand"})).await;
    host.sync().await;

    ben.send(json!({"type": "lower_all_hands"})).await;
    ben.expect_error("forbidden").await;
    let seen = host.sync().await;
    assert_eq!(of_type(&seen, "participant_updated").len(), 0, "{seen:?}");

    host.roundtrip(json!({"type": "lower_all_hands"})).await;
    let seen = anna.sync().await;
    assert_eq!(hand_of(&seen, "p1"), Some(Value::Null));
    assert_eq!(hand_of(&seen, "p2"), Some(Value::Null));
    ben.sync().await;
    // Nothing raised: nothing to say.
    host.roundtrip(json!({"type": "lower_all_hands"})).await;
    let seen = ben.sync().await;
    assert_eq!(of_type(&seen, "participant_updated").len(), 0, "{seen:?}");
}

#[tokio::test]
async fn a_flood_of_hands_and_media_states_reaches_the_room_as_a_trickle_ending_in_the_last_state()
{
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    anna.roundtrip(json!({"type": "media_state", "audio": false, "video": false}))
        .await;
    host.sync().await;

    // The same media state again and again is no news.
    for _ in 0..50 {
        anna.send(json!({"type": "media_state", "audio": false, "video": false}))
            .await;
    }
    anna.sync().await;
    let seen = host.sync().await;
    assert_eq!(of_type(&seen, "participant_updated").len(), 0, "{seen:?}");

    // 140 hand changes as fast as a script sends them, ending raised (what the session's
    // message budget lets through at once, after the 54 frames above: tests/message-budget.rs
    // floods beyond it).
    let started = std::time::Instant::now();
    for i in 0..140 {
        let kind = if i % 2 == 0 {
            "lower_hand"
        } else {
            "raise_hand"
        };
        anna.send(json!({"type": kind})).await;
    }
    anna.sync().await;
    let flood = started.elapsed();
    // The last held-back change goes out within a refill of the limit.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let seen = host.sync().await;
    let updates = of_type(&seen, "participant_updated");
    let allowed = 10 + (flood.as_millis() / 250) as usize + 2;
    assert!(
        (1..=allowed).contains(&updates.len()),
        "{} updates for 140 changes in {flood:?} (at most {allowed})",
        updates.len()
    );
    let last = updates.last().expect("an update");
    assert!(
        last["participant"]["hand"].is_u64(),
        "the last state, raised, is what the room sees: {last}"
    );
}
