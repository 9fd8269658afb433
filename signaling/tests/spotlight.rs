//! The spotlight: a host puts one participant on everyone's stage ("everyone sees Anna"),
//! everyone hears it, late joiners get it in `joined`, and it goes out when that participant
//! leaves or a host ends it. Participants may not; unknown participants are refused.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::{Value, json};

#[tokio::test]
async fn a_host_spotlights_a_student_for_everyone_until_she_leaves() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    host.sync().await;

    ben.send(json!({"type": "spotlight", "participant": "p2"}))
        .await;
    ben.expect_error("forbidden").await;
    host.send(json!({"type": "spotlight", "participant": "p99"}))
        .await;
    host.expect_error("unknown_participant").await;

    host.roundtrip(json!({"type": "spotlight", "participant": "p1"}))
        .await;
    for c in [&mut anna, &mut ben] {
        let seen = c.sync().await;
        let told = of_type(&seen, "spotlight");
        assert_eq!(told.len(), 1, "{seen:?}");
        assert_eq!(told[0]["participant"], "p1");
    }
    // The same again is no news.
    host.roundtrip(json!({"type": "spotlight", "participant": "p1"}))
        .await;
    assert!(of_type(&ben.sync().await, "spotlight").is_empty());

    // A late joiner learns it in `joined`.
    let (mut chiara, joined) =
        Client::join(addr, &room.id, &room.participant_secret, "Chiara").await;
    assert_eq!(joined["spotlight"], "p1");

    // Anna leaves: the spotlight goes out, for everyone.
    anna.send(json!({"type": "leave"})).await;
    let seen = chiara.sync().await;
    let told = of_type(&seen, "spotlight");
    assert_eq!(told.len(), 1, "{seen:?}");
    assert_eq!(told[0]["participant"], Value::Null);

    // Ben in the spotlight, then the host ends it.
    host.roundtrip(json!({"type": "spotlight", "participant": "p2"}))
        .await;
    host.roundtrip(json!({"type": "spotlight", "participant": null}))
        .await;
    let seen = chiara.sync().await;
    let told: Vec<&Value> = of_type(&seen, "spotlight")
        .into_iter()
        .map(|m| &m["participant"])
        .collect();
    assert_eq!(told, [&json!("p2"), &Value::Null]);
    let (_dora, joined) = Client::join(addr, &room.id, &room.participant_secret, "Dora").await;
    assert!(joined.get("spotlight").is_none(), "{joined}");
}
