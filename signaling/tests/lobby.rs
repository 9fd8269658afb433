//! The lobby of a class: a waiting participant gets `lobby` and nothing else (no participant
//! list, no chat, no media offer) until a host admits it; hosts see the waiting list; admit,
//! deny, admit all and switching the lobby off; an admitted session skips the lobby later.

use crate::common;

use std::time::Duration;

use common::client::{Client, create, of_type, participant, server};
use serde_json::json;

/// Long enough for anything the room would wrongly send to arrive on loopback.
const QUIET: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_waiting_participant_learns_nothing_until_admitted() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"title": "7b", "kind": "class"})).await;
    let (mut host, joined) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(joined["type"], "joined");
    assert_eq!(joined["waiting"], json!([]));
    host.send(json!({"type": "chat", "text": "Guten Morgen"}))
        .await;
    host.expect("chat").await;

    let (mut anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    assert_eq!(first["type"], "lobby", "{first}");
    assert_eq!(first["room"]["title"], "7b");
    assert!(first["session"].as_str().is_some_and(|s| s.len() == 32));
    assert!(
        first.get("participants").is_none(),
        "no participant list: {first}"
    );

    let update = host.expect("lobby_updated").await;
    assert_eq!(update["waiting"], json!(["p1"]));
    assert_eq!(update["arrived"], json!([{"id": "p1", "name": "Anna"}]));

    // What would reach an admitted member: others' media state, hands, chat, a new member.
    host.send(json!({"type": "media_state", "audio": false, "video": true}))
        .await;
    host.send(json!({"type": "raise_hand"})).await;
    host.send(json!({"type": "chat", "text": "Wer fehlt?"}))
        .await;
    host.sync().await;
    // Everything the waiting participant might try is refused and reaches nobody.
    for msg in [
        json!({"type": "publish", "sdp": "v=0\r\n", "tracks": []}),
        json!({"type": "subscribe_answer", "sdp": "v=0\r\n"}),
        json!({"type": "candidate", "pc": "publish", "candidate": ""}),
        json!({"type": "media_state", "audio": true, "video": true}),
        json!({"type": "chat", "text": "hallo?"}),
        json!({"type": "raise_hand"}),
        json!({"type": "admit_all"}),
    ] {
        anna.send(msg).await;
        anna.expect_error("not_admitted").await;
    }
    let leaked = anna.drain(QUIET).await;
    assert!(leaked.is_empty(), "the lobby received {leaked:?}");
    assert_eq!(anna.seen.iter().filter(|m| m["type"] != "error").count(), 1);
    let host_saw = host.sync().await;
    assert!(of_type(&host_saw, "chat").is_empty(), "{host_saw:?}");
    assert!(of_type(&host_saw, "participant_updated").is_empty());

    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    let joined = anna.expect("joined").await;
    assert_eq!(joined["you"]["id"], "p1");
    assert_eq!(joined["you"]["role"], "participant");
    assert_eq!(joined["you"]["audio"], false, "students join muted");
    assert_eq!(joined["session"], first["session"]);
    assert!(participant(&joined, "p0").is_some());
    let history: Vec<_> = joined["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["text"])
        .collect();
    assert_eq!(history, ["Guten Morgen", "Wer fehlt?"]);
    assert_eq!(
        host.expect("participant_joined").await["participant"]["id"],
        "p1"
    );
    assert_eq!(host.expect("lobby_updated").await["waiting"], json!([]));
}

#[tokio::test]
async fn deny_admit_all_and_lobby_off() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    let (mut cem, _) = Client::join(addr, &room.id, &room.participant_secret, "Cem").await;
    let (mut dora, _) = Client::join(addr, &room.id, &room.participant_secret, "Dora").await;
    let (mut emil, _) = Client::join(addr, &room.id, &room.participant_secret, "Emil").await;

    host.roundtrip(json!({"type": "deny", "participant": "p1"}))
        .await;
    ben.expect_error("denied").await;
    assert_eq!(ben.expect_closed().await, Some(4000));
    host.roundtrip(json!({"type": "admit", "participant": "p1"}))
        .await;
    host.expect_error("unknown_participant").await;

    host.send(json!({"type": "admit_all"})).await;
    cem.expect("joined").await;
    dora.expect("joined").await;
    emil.expect("joined").await;
    // Lobby lists go out at most every 250 ms; the last one comes by then.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = host.sync().await;
    assert_eq!(of_type(&seen, "participant_joined").len(), 3);
    assert_eq!(
        of_type(&seen, "lobby_updated").last().unwrap()["waiting"],
        json!([])
    );

    // Lobby off: the next participant comes straight in, and so does a waiting one.
    let (mut fritz, first) = Client::join(addr, &room.id, &room.participant_secret, "Fritz").await;
    assert_eq!(first["type"], "lobby");
    host.send(json!({"type": "settings", "lobby": false})).await;
    assert_eq!(fritz.expect("joined").await["settings"]["lobby"], false);
    let (_gus, first) = Client::join(addr, &room.id, &room.participant_secret, "Gus").await;
    assert_eq!(first["type"], "joined");
}

#[tokio::test]
async fn an_admitted_session_skips_the_lobby_when_it_comes_back() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let session = first["session"].as_str().unwrap().to_string();
    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    anna.expect("joined").await;
    anna.send(json!({"type": "leave"})).await;
    anna.expect_closed().await;

    let (_anna, again) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Anna",
        Some(&session),
    )
    .await;
    assert_eq!(again["type"], "joined", "{again}");
    assert_eq!(again["session"], session.as_str());
    // A made-up session is not a way in.
    let (_mallory, first) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "M",
        Some(&"ab".repeat(16)),
    )
    .await;
    assert_eq!(first["type"], "lobby");
    assert_ne!(first["session"], "ab".repeat(16).as_str());
}

/// A pupil waiting in the lobby whose page knocks again on a new socket (its Wi-Fi changed)
/// takes its own place with its own id, even in a room locked since: the old socket is
/// closed, the host sees the pupil once and never as a newcomer again, and admitting lets in
/// the page that is there, with its session.
#[tokio::test]
async fn a_page_that_knocks_again_from_the_lobby_keeps_one_place() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (_cem, _) = Client::join(addr, &room.id, &room.participant_secret, "Cem").await;
    let (mut ben, first) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    assert_eq!(first["type"], "lobby", "{first}");
    let session = first["session"].as_str().unwrap().to_string();
    loop {
        let update = host.expect("lobby_updated").await;
        if update["waiting"] == json!(["p1", "p2"]) {
            break;
        }
    }

    // The teacher locks the room meanwhile: nobody new, but Ben is no newcomer. Past the
    // 250 ms between lobby lists, so that any change the knock made would go out at once.
    host.send(json!({"type": "settings", "locked": true})).await;
    host.expect("settings_updated").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut again, knock) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Ben",
        Some(&session),
    )
    .await;
    assert_eq!(knock["type"], "lobby", "{knock}");
    assert_eq!(knock["session"], session.as_str(), "the same session");
    assert_eq!(ben.expect_closed().await, Some(4000));
    // The hosts see no change: no list without him, none that names him as arrived.
    let updates = host.drain(QUIET).await;
    assert!(of_type(&updates, "lobby_updated").is_empty(), "{updates:?}");
    host.send(json!({"type": "admit_all"})).await;
    let joined = again.expect("joined").await;
    assert_eq!(joined["session"], session.as_str());
    assert_eq!(joined["you"]["id"], "p2");
    // The host is told of Cem and of one Ben, the page that is there.
    let mut arrived = Vec::new();
    while arrived.len() < 2 {
        let m = host.expect("participant_joined").await;
        arrived.push(m["participant"]["id"].as_str().unwrap().to_string());
    }
    arrived.sort();
    assert_eq!(arrived, ["p1", "p2"]);
    let late = host.drain(QUIET).await;
    assert!(of_type(&late, "participant_joined").is_empty(), "{late:?}");
}

#[tokio::test]
async fn meetings_have_no_lobby_unless_asked() {
    let (_server, addr) = server().await;
    let meeting = create(addr, json!({"kind": "meeting"})).await;
    let (_host, _) = Client::join(addr, &meeting.id, &meeting.host_secret, "Herr Roth").await;
    let (_p, first) = Client::join(addr, &meeting.id, &meeting.participant_secret, "Frau Li").await;
    assert_eq!(first["type"], "joined");
    assert_eq!(first["you"]["audio"], true, "meetings join unmuted");
    assert_eq!(first["settings"]["screen"], true);

    let class = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (_host, _) = Client::join(addr, &class.id, &class.host_secret, "Frau Weber").await;
    let (_p, first) = Client::join(addr, &class.id, &class.participant_secret, "Anna").await;
    assert_eq!(first["type"], "joined");
    assert_eq!(first["settings"]["screen"], false);
}

/// `lobby_updated` is a delta: the ids of everyone waiting, and names only for who came since
/// the last one; a host who joins later has the earlier names from `joined`.
#[tokio::test]
async fn lobby_updates_name_only_who_arrived() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (_anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.expect("lobby_updated").await;
    // Past the 250 ms between lists: Ben's update is one of its own.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_ben, _) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    let update = host.expect("lobby_updated").await;
    assert_eq!(update["waiting"], json!(["p1", "p2"]));
    assert_eq!(update["arrived"], json!([{"id": "p2", "name": "Ben"}]));

    // A co-teacher arriving now gets everyone's name in `joined`.
    let (_co, joined) = Client::join(addr, &room.id, &room.host_secret, "Herr Kim").await;
    let names: Vec<&str> = (joined["waiting"].as_array().unwrap().iter())
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Anna", "Ben"]);
}
