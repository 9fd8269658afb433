//! What joining costs the server is bounded without a login: the chat history every `joined`
//! carries is capped in bytes, and the host link opens only a few seats beyond a full room.

use crate::common;

use common::client::{Client, create, server_with};
use serde_json::json;

fn config(max_per_room: usize) -> aula_signaling::Config {
    aula_signaling::Config {
        max_participants_per_room: max_per_room,
        ..aula_signaling::Config::for_tests()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_chat_history_in_joined_stays_under_64_kib_and_keeps_the_newest() {
    let (_server, addr) = server_with(config(50)).await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    // 20 people send 5 messages of 1000 bytes each (the chat's burst): 100 kB of chat.
    let mut people = Vec::new();
    for i in 0..20 {
        let (c, _) = Client::join(addr, &room.id, &room.participant_secret, &format!("P{i}")).await;
        people.push(c);
    }
    let mut last = String::new();
    for (i, c) in people.iter_mut().enumerate() {
        for k in 0..5 {
            last = format!("{i:02}-{k}{}", "ä".repeat(496));
            // The room takes 64 KiB of chat at once, then 16 KiB a second: past the burst,
            // a message waits its turn.
            while c
                .roundtrip(json!({"type": "chat", "text": last}))
                .await
                .iter()
                .any(|m| m["code"] == "rate_limited")
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    let (_late, joined) = Client::join(addr, &room.id, &room.participant_secret, "Spät").await;
    let chat = joined["chat"].as_array().unwrap();
    let bytes: usize = chat
        .iter()
        .map(|m| m["text"].as_str().unwrap().len() + m["name"].as_str().unwrap().len())
        .sum();
    assert!(bytes <= 64 * 1024, "{bytes} bytes of chat in joined");
    assert!(chat.len() >= 60 && chat.len() < 100, "{} kept", chat.len());
    assert_eq!(
        chat.last().unwrap()["text"],
        last.as_str(),
        "the newest kept"
    );
    let ids: Vec<u64> = chat.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none missing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_link_opens_ten_seats_beyond_a_full_room_and_no_more() {
    let (_server, addr) = server_with(config(3)).await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let mut kept = Vec::new();
    for i in 0..3 {
        let (c, first) =
            Client::join(addr, &room.id, &room.participant_secret, &format!("S{i}")).await;
        assert_eq!(first["type"], "joined", "{first}");
        kept.push(c);
    }
    let (mut refused, first) = Client::join(addr, &room.id, &room.participant_secret, "S3").await;
    assert_eq!(
        (&first["type"], &first["code"]),
        (&json!("error"), &json!("room_full"))
    );
    refused.expect_closed().await;
    // A full room never locks the teacher out: ten host seats beyond it.
    for i in 0..10 {
        let (c, first) = Client::join(addr, &room.id, &room.host_secret, &format!("H{i}")).await;
        assert_eq!(first["type"], "joined", "host {i}: {first}");
        kept.push(c);
    }
    // The eleventh is refused like anyone.
    let (mut extra, first) = Client::join(addr, &room.id, &room.host_secret, "H10").await;
    assert_eq!(
        (&first["type"], &first["code"]),
        (&json!("error"), &json!("room_full"))
    );
    extra.expect_closed().await;
    // A host who leaves frees a seat for the next.
    let mut gone = kept.pop().unwrap();
    gone.send(json!({"type": "leave"})).await;
    gone.expect_closed().await;
    kept[0].expect("participant_left").await;
    let (_again, first) = Client::join(addr, &room.id, &room.host_secret, "H11").await;
    assert_eq!(first["type"], "joined", "{first}");
}
