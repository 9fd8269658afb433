//! Resuming a session on a new socket (docs/protocol.md, `resume`): a student whose WebSocket
//! drops keeps her seat, marked reconnecting, and takes it back with her token (same id, no
//! lobby, no leave and join for the others); the newest socket wins; a wrong, expired or
//! other room's token takes over nothing; `leave` ends the seat at once, `leave` with
//! `may_return` after the short unload grace. Config::for_tests keeps a lost seat 3 s and an
//! unloading one 1 s.

use crate::common;

use std::time::Duration;

use common::client::{Client, create, of_type, server};
use serde_json::{Value, json};

/// Opens a socket and sends `resume`; returns it and the first answer.
async fn resume(
    addr: std::net::SocketAddr,
    room: &str,
    token: &str,
    fresh: bool,
) -> (Client, Value) {
    let mut c = Client::connect(addr).await;
    c.send(json!({"type": "resume", "v": 1, "room": room, "token": token, "fresh": fresh}))
        .await;
    let first = c.next().await.expect("an answer to resume");
    (c, first)
}

fn token(joined: &Value) -> String {
    let t = joined["resume"]
        .as_str()
        .expect("joined carries a resume token");
    assert_eq!(t.len(), 32, "{joined}");
    t.to_string()
}

#[tokio::test]
async fn a_dropped_socket_resumes_with_the_same_id_and_nobody_sees_a_leave() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": true})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    assert_eq!(first["type"], "lobby");
    host.expect("lobby_updated").await;
    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    let mut anna = anna;
    let joined = anna.expect("joined").await;
    assert_eq!(joined["resumed"], false);
    assert_eq!(joined["resume_grace_secs"], 3);
    assert_eq!(joined["you"]["quality"], "good");
    assert_eq!(joined["you"]["reconnecting"], false);
    let anna_token = token(&joined);
    host.expect("participant_joined").await;

    drop(anna); // her Wi-Fi drops
    let away = host.expect("participant_updated").await;
    assert_eq!(away["participant"]["id"], "p1");
    assert_eq!(away["participant"]["reconnecting"], true);

    let (mut anna, back) = resume(addr, &room.id, &anna_token, false).await;
    assert_eq!(back["type"], "joined", "{back}");
    assert_eq!(back["resumed"], true);
    assert_eq!(back["you"]["id"], "p1");
    assert_eq!(back["you"]["role"], "participant");
    assert_eq!(back["you"]["reconnecting"], false);
    assert_eq!(back["participants"][0]["id"], "p0");
    assert_eq!(token(&back), anna_token, "the token stays for the session");
    let seen = host.sync().await;
    let updates = of_type(&seen, "participant_updated");
    assert_eq!(updates.len(), 1, "{seen:?}");
    assert_eq!(updates[0]["participant"]["reconnecting"], false);
    assert!(of_type(&seen, "participant_left").is_empty(), "{seen:?}");
    assert!(of_type(&seen, "participant_joined").is_empty(), "{seen:?}");
    assert!(
        of_type(&seen, "lobby_updated").is_empty(),
        "no lobby on a resume"
    );

    // She is a member as before: her chat reaches the host.
    anna.send(json!({"type": "chat", "text": "wieder da"}))
        .await;
    assert_eq!(host.expect("chat").await["message"]["from"], "p1");
    // And the grace has not removed her after all.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(of_type(&host.sync().await, "participant_left").is_empty());
}

#[tokio::test]
async fn without_a_resume_the_seat_goes_after_the_grace() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (ben, joined) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    let ben_token = token(&joined);
    host.expect("participant_joined").await;
    drop(ben);
    assert_eq!(
        host.expect("participant_updated").await["participant"]["reconnecting"],
        true
    );
    let left = host.expect("participant_left").await;
    assert_eq!(left["id"], "p1");

    // Too late: the token is worth nothing, the socket stays open for a join.
    let (mut late, answer) = resume(addr, &room.id, &ben_token, false).await;
    assert_eq!(answer["code"], "resume_failed", "{answer}");
    let session = joined["session"].as_str().unwrap();
    late.send(
        json!({"type": "join", "v": 1, "room": room.id, "secret": room.participant_secret,
                     "name": "Ben", "session": session}),
    )
    .await;
    let again = late.expect("joined").await;
    assert_eq!(again["you"]["id"], "p2", "a new participant");
    assert_ne!(token(&again), ben_token);
}

#[tokio::test]
async fn wrong_and_foreign_tokens_take_over_nothing() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let other = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (_o, other_joined) = Client::join(addr, &other.id, &other.host_secret, "Herr Roth").await;
    let (_anna, joined) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.expect("participant_joined").await;

    let foreign = token(&other_joined);
    let mut wrong = token(&joined);
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    for (t, room_id) in [
        (wrong.as_str(), room.id.as_str()),
        (foreign.as_str(), room.id.as_str()),
        ("", room.id.as_str()),
        (token(&joined).as_str(), "nosuchroom"),
    ] {
        let (mut c, answer) = resume(addr, room_id, t, false).await;
        assert_eq!(answer["code"], "resume_failed", "{answer}");
        assert!(c.closed.is_none());
        assert!(c.drain(Duration::from_millis(100)).await.is_empty());
    }
    // Nobody was taken over: Anna's seat and the host's view are untouched.
    let seen = host.sync().await;
    assert!(of_type(&seen, "participant_updated").is_empty(), "{seen:?}");
    assert!(of_type(&seen, "participant_left").is_empty(), "{seen:?}");
}

#[tokio::test]
async fn the_newest_socket_wins_and_the_old_one_is_closed() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut first_tab, joined) =
        Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let t = token(&joined);
    host.expect("participant_joined").await;

    let (mut second_tab, answer) = resume(addr, &room.id, &t, false).await;
    assert_eq!(answer["resumed"], true, "{answer}");
    assert_eq!(answer["you"]["id"], "p1");
    assert_eq!(first_tab.expect_closed().await, Some(4000));
    // What the old socket still sends does nothing, and its close is no leave.
    let (mut third, answer) = resume(addr, &room.id, &t, true).await;
    assert_eq!(answer["you"]["id"], "p1");
    assert_eq!(second_tab.expect_closed().await, Some(4000));
    third.send(json!({"type": "raise_hand"})).await;
    let seen = host.drain(Duration::from_secs(2)).await;
    assert!(of_type(&seen, "participant_left").is_empty(), "{seen:?}");
    let hands: Vec<&Value> = of_type(&seen, "participant_updated");
    assert_eq!(hands.len(), 1, "only the new socket's hand: {seen:?}");
    assert!(hands[0]["participant"]["hand"].is_u64());
}

#[tokio::test]
async fn leave_ends_the_seat_at_once_and_an_unloading_page_soon() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;

    let (mut anna, joined) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.expect("participant_joined").await;
    anna.send(json!({"type": "leave"})).await;
    assert_eq!(host.expect("participant_left").await["id"], "p1");
    let (_c, answer) = resume(addr, &room.id, &token(&joined), false).await;
    assert_eq!(answer["code"], "resume_failed", "a left seat is gone");

    // A closing tab: reconnecting, then gone after the 1 s unload grace.
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    host.expect("participant_joined").await;
    let started = tokio::time::Instant::now();
    ben.send(json!({"type": "leave", "may_return": true})).await;
    assert_eq!(
        host.expect("participant_updated").await["participant"]["reconnecting"],
        true
    );
    assert_eq!(host.expect("participant_left").await["id"], "p2");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the unload grace is short"
    );

    // A reloading page: back within the unload grace.
    let (mut cem, joined) = Client::join(addr, &room.id, &room.participant_secret, "Cem").await;
    host.expect("participant_joined").await;
    cem.send(json!({"type": "leave", "may_return": true})).await;
    let (_cem, answer) = resume(addr, &room.id, &token(&joined), true).await;
    assert_eq!(answer["you"]["id"], "p3");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(of_type(&host.sync().await, "participant_left").is_empty());
}

#[tokio::test]
async fn admitting_into_a_full_room_tells_both_sides() {
    let config = aula_signaling::Config {
        max_participants_per_room: 2,
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = common::client::server_with(config).await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    anna.expect("joined").await;
    host.send(json!({"type": "admit", "participant": "p2"}))
        .await;
    host.expect_error("room_full").await;
    let failed = ben.expect("admit_failed").await;
    assert_eq!(failed["reason"], "room_full");
    assert!(ben.closed.is_none(), "Ben keeps waiting");
    host.send(json!({"type": "admit_all"})).await;
    host.expect_error("room_full").await;
    ben.expect("admit_failed").await;
}
