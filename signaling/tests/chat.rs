//! Chat: to everyone admitted with the sender's real id, history for late joiners while the
//! room lives, the length and rate limits, and the host's switch.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::json;

#[tokio::test]
async fn chat_reaches_everyone_and_late_joiners_see_the_history() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Herr Roth").await;
    let (mut li, _) = Client::join(addr, &room.id, &room.participant_secret, "Frau Li").await;
    host.send(json!({"type": "chat", "text": "  Tagesordnung:\n1. Zeugnisse  "}))
        .await;
    for c in [&mut host, &mut li] {
        let m = c.expect("chat").await["message"].clone();
        assert_eq!(m["text"], "Tagesordnung:\n1. Zeugnisse");
        assert_eq!(
            (m["id"].as_u64(), m["from"].as_str()),
            (Some(1), Some("p0"))
        );
        assert!(m["at"].as_u64().unwrap() > 1_700_000_000_000);
        assert_eq!(m["role"], "host", "a host's message says so");
    }
    li.send(json!({"type": "chat", "text": "<b>ok</b>"})).await;
    let m = host.expect("chat").await["message"].clone();
    assert_eq!(
        (&m["text"], &m["role"]),
        (&json!("<b>ok</b>"), &json!("participant"))
    );

    let (_late, joined) = Client::join(addr, &room.id, &room.participant_secret, "Spät").await;
    let texts: Vec<_> = joined["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["text"].clone(), m["role"].clone()))
        .collect();
    assert_eq!(
        texts,
        [
            (json!("Tagesordnung:\n1. Zeugnisse"), json!("host")),
            (json!("<b>ok</b>"), json!("participant"))
        ]
    );
}

#[tokio::test]
async fn limits_and_the_hosts_switch() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;

    for (text, code) in [
        (String::new(), "bad_message"),
        ("   ".to_string(), "bad_message"),
        ("a\u{7}b".to_string(), "bad_message"),
        ("x".repeat(1001), "text_too_long"),
    ] {
        anna.send(json!({"type": "chat", "text": text})).await;
        anna.expect_error(code).await;
    }
    anna.send(json!({"type": "chat", "text": "x".repeat(1000)}))
        .await;
    anna.expect("chat").await;

    // A burst of five (one already spent), then one per second: of 20 messages sent as fast
    // as the socket allows, at most 5 + (seconds taken) get through, the rest are refused.
    let started = std::time::Instant::now();
    let mut refused = 0;
    for i in 0..20 {
        let seen = anna
            .roundtrip(json!({"type": "chat", "text": format!("spam {i}")}))
            .await;
        refused += of_type(&seen, "error")
            .iter()
            .filter(|e| e["code"] == "rate_limited")
            .count();
    }
    let refills = started.elapsed().as_secs() as usize;
    let host_saw = host.sync().await;
    let delivered = of_type(&host_saw, "chat").len();
    assert_eq!(
        delivered + refused,
        21,
        "every message is delivered or refused"
    );
    assert!(
        delivered <= 5 + refills,
        "{delivered} got through in {refills} s"
    );
    assert!(refused >= 1);

    host.send(json!({"type": "settings", "chat": false})).await;
    anna.expect("settings_updated").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    ben.send(json!({"type": "chat", "text": "hallo"})).await;
    ben.expect_error("forbidden").await;
    host.send(json!({"type": "chat", "text": "Nur ich schreibe jetzt."}))
        .await;
    assert_eq!(ben.expect("chat").await["message"]["from"], "p0");
}
