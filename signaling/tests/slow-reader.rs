//! A client that stops reading is dropped once its queue is full, and the room goes on: the
//! server's memory for one socket is bounded, whatever the client does.

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
    // The stuck client: joins, then never reads again (its kernel buffers fill, then its
    // queue on the server).
    let (_stuck, joined) = Client::join(addr, &room.id, &room.participant_secret, "Stuck").await;
    let stuck_id = joined["you"]["id"].as_str().unwrap().to_string();

    // A busy host: raising and lowering a hand broadcasts to everyone, the stuck one too.
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let (mut tx, mut rx) = ws.split();
    let join = json!({"type": "join", "v": 1, "room": room.id, "secret": room.host_secret,
        "name": "Host"});
    tx.send(Message::text(join.to_string())).await.unwrap();
    // The host paces itself (a batch, then reads the batch's echoes), so only the stuck
    // client falls behind.
    let (up, down) = (json!({"type": "raise_hand"}), json!({"type": "lower_hand"}));
    let batch: Vec<String> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                up.to_string()
            } else {
                down.to_string()
            }
        })
        .collect();
    let started = Instant::now();
    let mut sent = 0usize;
    'spam: loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the stuck client was never dropped ({sent} messages sent)"
        );
        for text in &batch {
            tx.send(Message::text(text.clone())).await.unwrap();
        }
        sent += batch.len();
        let mut echoes = 0;
        while echoes < batch.len() {
            let frame = tokio::time::timeout(Duration::from_secs(30), rx.next())
                .await
                .expect("the host hears its echoes within 30 s");
            let text = match frame {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(_)) => continue,
                other => panic!("the host's socket ended after {sent} messages: {other:?}"),
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            match v["type"].as_str() {
                Some("participant_updated") => echoes += 1,
                Some("participant_left") if v["id"] == stuck_id.as_str() => break 'spam,
                _ => {}
            }
        }
    }
    eprintln!(
        "stuck client dropped after {sent} broadcasts, {:?}",
        started.elapsed()
    );
    // The room goes on: a newcomer gets in and sees the host.
    let (_late, joined) = Client::join(addr, &room.id, &room.participant_secret, "Late").await;
    assert_eq!(joined["type"], "joined");
    assert_eq!(
        joined["participants"].as_array().unwrap().len(),
        1,
        "{joined}"
    );
}
