//! Strangers at the door of a class: a script knocking and leaving in a loop costs the teacher a
//! few lobby lists a second, not one per knock; `deny` bars the session, `deny_all` clears the
//! lobby, and renewing the link sends away everyone who came through the old one.

use crate::common;

use std::time::{Duration, Instant};

use common::client::{Client, create, of_type, server};
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// What a host heard until the room settled: a lobby list held back (at most 250 ms) is
/// sent by then.
async fn settled(host: &mut Client) -> Vec<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.sync().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_knock_and_leave_flood_reaches_the_teacher_as_a_few_lists_a_second() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut teacher, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;

    // 300 knocks, each followed at once by a close, from 4 scripts at a time.
    let started = Instant::now();
    let mut scripts = Vec::new();
    for s in 0..4 {
        let (id, secret) = (room.id.clone(), room.participant_secret.clone());
        scripts.push(tokio::spawn(async move {
            for i in 0..75 {
                let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
                    .await
                    .unwrap();
                let (mut tx, _rx) = futures_util::StreamExt::split(ws);
                let join = json!({"type": "join", "v": 1, "room": id, "secret": secret,
                    "name": format!("x{s}-{i}")});
                tx.send(Message::text(join.to_string())).await.unwrap();
                let _ = tx.close().await;
            }
        }));
    }
    for s in scripts {
        s.await.unwrap();
    }
    let flood = started.elapsed();
    // The teacher's socket stays open and keeps answering; what she heard meanwhile:
    let heard = settled(&mut teacher).await;
    let lists = of_type(&heard, "lobby_updated");
    let most = (flood + Duration::from_millis(300)).as_millis() / 250 + 2;
    assert!(
        (lists.len() as u128) <= most,
        "{} lobby lists for 300 knocks in {flood:?} (at most {most})",
        lists.len()
    );
    assert!(!lists.is_empty(), "knocks were seen");
    // The last list is the truth: nobody waits any more.
    assert_eq!(lists.last().unwrap()["waiting"], json!([]));
    eprintln!("300 knocks in {flood:?}: {} lobby lists", lists.len());
}

#[tokio::test]
async fn deny_bars_the_session_and_deny_all_clears_the_lobby() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut teacher, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut x, first) = Client::join(addr, &room.id, &room.participant_secret, "Lehrer").await;
    assert_eq!(first["type"], "lobby");
    let session = first["session"].as_str().unwrap().to_string();
    teacher.expect("lobby_updated").await;
    let id = teacher.seen.last().unwrap()["waiting"][0].clone();
    teacher
        .send(json!({"type": "deny", "participant": id}))
        .await;
    x.expect_error("denied").await;
    x.expect_closed().await;
    // The same page (its session) knocks again: refused at once, no knock reaches the host.
    let (mut again, first) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Lehrer",
        Some(&session),
    )
    .await;
    assert_eq!(
        (&first["type"], &first["code"]),
        (&json!("error"), &json!("denied"))
    );
    again.expect_closed().await;

    // Three strangers; deny_all sends them all away.
    let mut strangers = Vec::new();
    for name in ["a", "b", "c"] {
        let (c, first) = Client::join(addr, &room.id, &room.participant_secret, name).await;
        assert_eq!(first["type"], "lobby");
        strangers.push(c);
    }
    teacher.send(json!({"type": "deny_all"})).await;
    for c in &mut strangers {
        c.expect_error("denied").await;
        c.expect_closed().await;
    }
    let heard = settled(&mut teacher).await;
    assert_eq!(
        of_type(&heard, "lobby_updated").last().unwrap()["waiting"],
        json!([])
    );

    // A student may still knock, and be let in.
    let (mut anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    assert_eq!(first["type"], "lobby");
    let heard = settled(&mut teacher).await;
    let id = of_type(&heard, "lobby_updated").last().unwrap()["waiting"][0].clone();
    teacher
        .send(json!({"type": "admit", "participant": id}))
        .await;
    anna.expect("joined").await;
}

#[tokio::test]
async fn renewing_the_link_sends_away_who_waits_and_denies_stay_host_only() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut teacher, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut stranger, _) = Client::join(addr, &room.id, &room.participant_secret, "Gast").await;
    let (mut other, _) = Client::join(addr, &room.id, &room.participant_secret, "Gast2").await;
    // A waiting participant may not deny anyone.
    other.send(json!({"type": "deny_all"})).await;
    other.expect_error("not_admitted").await;

    teacher.send(json!({"type": "renew_link"})).await;
    let renewed = teacher.expect("link_renewed").await;
    for c in [&mut stranger, &mut other] {
        c.expect_error("bad_secret").await;
        c.expect_closed().await;
    }
    let heard = settled(&mut teacher).await;
    assert_eq!(
        of_type(&heard, "lobby_updated").last().unwrap()["waiting"],
        json!([])
    );
    // The new link knocks as usual.
    let secret = renewed["participant_secret"].as_str().unwrap();
    let (_anna, first) = Client::join(addr, &room.id, secret, "Anna").await;
    assert_eq!(first["type"], "lobby");
}
