//! A client that stops reading and floods is dropped, and the room goes on: the server's
//! memory for one socket is bounded, whatever the client does.
//!
//! What the room broadcasts is rate-limited (chat per sender and per room in bytes, hands and
//! media flags merged), so a room alone fills a socket's queue slowly, and the 60 s idle
//! timeout usually drops a client that stopped reading first. The fastest way to make the
//! server queue for it is the client's own: it keeps sending `ping` and never reads a `pong`
//! (its TCP receive buffer is 4 KiB, so the kernel holds little for it). The message budget
//! closes it (1008) within seconds, before its queue of pongs reaches 512 KiB; the queue's
//! bound itself is outbox.rs's unit test, and its counter crate::tally's.

mod common;

use std::time::{Duration, Instant};

use common::client::{Client, create, server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (stuck, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    let (mut tx, mut rx) = stuck.split();
    let join = json!({"type": "join", "v": 1, "room": room.id,
        "secret": room.participant_secret, "name": "Stuck"});
    tx.send(Message::text(join.to_string())).await.unwrap();
    let joined: Value = match rx.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
        other => panic!("no joined: {other:?}"),
    };
    let stuck_id = joined["you"]["id"].as_str().unwrap().to_string();

    // From here on it never reads again, and pings as fast as it can.
    let started = Instant::now();
    let ping = Message::text(json!({"type": "ping"}).to_string());
    let mut sent = 0u64;
    let flood = async {
        loop {
            if tx.send(ping.clone()).await.is_err() {
                return;
            }
            sent += 1;
        }
    };
    let left = async {
        loop {
            let m = host.expect("participant_left").await;
            if m["id"] == stuck_id.as_str() {
                return;
            }
        }
    };
    tokio::select! {
        _ = flood => host.expect("participant_left").await,
        _ = left => json!(null),
    };
    let took = started.elapsed();
    eprintln!("stuck client dropped after {sent} pings, {took:?}");
    assert!(
        took < Duration::from_secs(30),
        "dropped within seconds, not by the 60 s idle timeout: {took:?}"
    );
    // What dropped it is the message budget (docs/protocol.md), before its queue of pongs
    // filled: counted as a flood, closed with 1008.
    assert_eq!(
        common::metric(addr, "aula_websockets_flooding_total").await,
        1
    );
    let closed = "aula_websockets_closed_total{code=\"1008\"}";
    assert_eq!(common::metric(addr, closed).await, 1, "counted in /metrics");

    // The room goes on: a newcomer gets in and sees the host, and the host hears of it.
    let (_late, joined) = Client::join(addr, &room.id, &room.participant_secret, "Late").await;
    assert_eq!(joined["type"], "joined");
    let people = joined["participants"].as_array().unwrap();
    assert_eq!(people.len(), 1, "{joined}");
    host.expect("participant_joined").await;
}
