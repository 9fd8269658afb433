//! Sockets that go quiet or crowd the room do not hold it: a silent socket is dropped after
//! `ws_idle_timeout_secs` (a live one, which answers pings, stays); a lobby full of strangers
//! does not keep the teacher out; a session opened again replaces its old socket.

use crate::common;

use std::time::Duration;

use aula_signaling::Config;
use common::client::{Client, create, of_type, server_with};
use serde_json::json;

/// Rooms of 3; sockets silent for `idle_secs` are dropped.
fn config(idle_secs: u64) -> Config {
    Config {
        ws_idle_timeout_secs: idle_secs,
        max_participants_per_room: 3,
        ..Config::for_tests()
    }
}

#[tokio::test]
async fn a_silent_socket_is_dropped_and_a_live_one_stays() {
    let (_server, addr) = server_with(config(1)).await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    // Ben waits in the lobby, then his device vanishes: nothing of his reaches the server
    // any more, not even the answers to its pings (the client is never polled again).
    let (_ben, first) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    assert_eq!(first["type"], "lobby");
    assert_eq!(
        host.expect("lobby_updated").await["arrived"][0]["name"],
        "Ben"
    );

    // The host keeps reading (and so answers pings) for three timeouts: still in, and told
    // that Ben is gone from the lobby.
    let seen = host.drain(Duration::from_secs(3)).await;
    assert!(host.closed.is_none(), "a live socket stays: {seen:?}");
    let updates = of_type(&seen, "lobby_updated");
    assert_eq!(
        updates.last().expect("Ben's departure")["waiting"],
        json!([])
    );
}

#[tokio::test]
async fn a_full_lobby_does_not_keep_the_teacher_out() {
    let (_server, addr) = server_with(config(60)).await;
    let room = create(addr, json!({"kind": "class"})).await;
    let mut strangers = Vec::new();
    for i in 0..3 {
        let (c, first) =
            Client::join(addr, &room.id, &room.participant_secret, &format!("x{i}")).await;
        assert_eq!(first["type"], "lobby");
        strangers.push(c);
    }
    let (mut one_more, first) = Client::join(addr, &room.id, &room.participant_secret, "x3").await;
    assert_eq!(first["code"], "room_full");
    assert_eq!(one_more.expect_closed().await, Some(4000));

    let (mut host, joined) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(joined["type"], "joined", "{joined}");
    assert_eq!(joined["waiting"].as_array().unwrap().len(), 3);
    host.roundtrip(json!({"type": "settings", "locked": true}))
        .await;
    for id in ["p0", "p1", "p2"] {
        host.send(json!({"type": "remove", "participant": id}))
            .await;
    }
    for s in strangers.iter_mut() {
        s.expect_error("removed").await;
    }
    host.sync().await;
}

#[tokio::test]
async fn a_session_opened_again_replaces_its_old_socket() {
    let (_server, addr) = server_with(config(60)).await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Herr Roth").await;
    let (mut first_tab, joined) =
        Client::join(addr, &room.id, &room.participant_secret, "Frau Li").await;
    let session = joined["session"].as_str().unwrap().to_string();
    assert_eq!(
        host.expect("participant_joined").await["participant"]["id"],
        "p1"
    );

    let (_second_tab, again) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Frau Li",
        Some(&session),
    )
    .await;
    assert_eq!(again["type"], "joined");
    assert_eq!(first_tab.expect_closed().await, Some(4000));
    assert_eq!(host.expect("participant_left").await["id"], "p1");
    let now_in = host.expect("participant_joined").await;
    assert_eq!(now_in["participant"]["id"], "p2");
    assert_eq!(
        again["participants"].as_array().unwrap().len(),
        1,
        "{again}"
    );
}
