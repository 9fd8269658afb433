//! Raised hands: an ordered queue everyone sees in `hand`; participants lower their own,
//! hosts lower anyone's.

mod common;

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
