//! Ending a room for all: everyone admitted and everyone waiting gets `room_ended` and a
//! close, the links stop working, and the room's media state is freed.

use crate::common;

use std::time::{Duration, Instant};

use common::client::{Client, create, server};
use common::{metric, raw_request};
use serde_json::json;

#[tokio::test]
async fn end_for_all_frees_everything() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let other = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    anna.expect("joined").await;
    let (mut waiting, first) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    assert_eq!(first["type"], "lobby");
    let (mut elsewhere, _) = Client::join(addr, &other.id, &other.host_secret, "Herr Roth").await;
    // The SFU workers create their rooms (and report them) a moment after the joins.
    wait_for_metric(addr, "aula_media_rooms", 2).await;

    host.send(json!({"type": "end_room"})).await;
    for c in [&mut host, &mut anna, &mut waiting] {
        let ended = c.expect("room_ended").await;
        assert_eq!(ended["reason"], "ended_by_host");
        assert_eq!(c.expect_closed().await, Some(1000));
    }

    let (status, _) = raw_request(addr, "GET", &format!("/api/rooms/{}", room.id), "").await;
    assert_eq!(status, 404);
    let (mut late, first) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(first["code"], "unknown_room");
    assert_eq!(late.expect_closed().await, Some(4000));
    // The SFU has let go of the room; the other room lives on.
    wait_for_metric(addr, "aula_media_rooms", 1).await;
    assert_eq!(metric(addr, "aula_rooms").await, 1);
    assert!(elsewhere.sync().await.is_empty());
}

async fn wait_for_metric(addr: std::net::SocketAddr, name: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = metric(addr, name).await;
        if now == value {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is {now}, not {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
