//! A participant who sends any host action gets `forbidden` and nothing changes: not the
//! lobby, not anyone's media, not the settings, not the link, not the room's life. Forged
//! sender ids and actions on ids from another room are refused too.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::{Value, json};

fn host_actions() -> Vec<Value> {
    vec![
        json!({"type": "admit", "participant": "p2"}),
        json!({"type": "admit_all"}),
        json!({"type": "deny", "participant": "p2"}),
        json!({"type": "mute", "participant": "p0"}),
        json!({"type": "mute_all"}),
        json!({"type": "lower_all_hands"}),
        json!({"type": "spotlight", "participant": "p1"}),
        json!({"type": "stop_video", "participant": "p0"}),
        json!({"type": "stop_screen", "participant": "p0"}),
        json!({"type": "remove", "participant": "p0"}),
        json!({"type": "set_role", "participant": "p1", "role": "host"}),
        json!({"type": "set_role", "participant": "p0", "role": "participant"}),
        json!({"type": "settings", "lobby": false, "locked": true, "chat": false}),
        json!({"type": "settings", "unmute": false, "video": false, "screen": true}),
        json!({"type": "renew_link"}),
        json!({"type": "end_room"}),
        json!({"type": "lower_hand", "participant": "p0"}),
    ]
}

#[tokio::test]
async fn a_participant_cannot_do_what_hosts_do() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.send(json!({"type": "admit", "participant": "p1"}))
        .await;
    anna.expect("joined").await;
    let (mut ben, first) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    assert_eq!(first["type"], "lobby");
    host.send(json!({"type": "raise_hand"})).await;
    host.sync().await;
    anna.sync().await;

    for action in host_actions() {
        let between = anna.roundtrip(action.clone()).await;
        let refusals = of_type(&between, "error");
        assert_eq!(refusals.len(), 1, "{action}: {between:?}");
        assert_eq!(refusals[0]["code"], "forbidden", "{action}");
        assert_eq!(between.len(), 1, "{action} changed something: {between:?}");
    }

    // The host saw nothing happen, and is still host with the hand up and media on.
    let host_saw = host.sync().await;
    assert!(host_saw.is_empty(), "{host_saw:?}");
    // Ben still waits and heard nothing beyond `lobby`.
    let leaked = ben.drain(std::time::Duration::from_millis(300)).await;
    assert!(leaked.is_empty(), "{leaked:?}");
    host.send(json!({"type": "admit", "participant": "p2"}))
        .await;
    let joined = ben.expect("joined").await;
    assert_eq!(
        joined["settings"],
        json!({"lobby": true, "locked": false, "chat": true,
        "unmute": true, "video": true, "screen": false})
    );
    let teacher = &joined["participants"][0];
    assert_eq!(teacher["role"], "host");
    assert_eq!(teacher["audio"], true);
    assert_eq!(teacher["video"], true);
    assert_eq!(teacher["hand"], 1);
    // The participant link still admits (it was not renewed).
    let (_cem, first) = Client::join(addr, &room.id, &room.participant_secret, "Cem").await;
    assert_eq!(first["type"], "lobby");
}

#[tokio::test]
async fn forged_senders_and_other_rooms_ids_are_refused() {
    let (_server, addr) = server().await;
    let a = create(addr, json!({"kind": "meeting"})).await;
    let b = create(addr, json!({"kind": "meeting"})).await;
    let (mut host_a, _) = Client::join(addr, &a.id, &a.host_secret, "Host A").await;
    let (mut anna, _) = Client::join(addr, &a.id, &a.participant_secret, "Anna").await;
    let (mut host_b, _) = Client::join(addr, &b.id, &b.host_secret, "Host B").await;
    let (mut ben, _) = Client::join(addr, &b.id, &b.participant_secret, "Ben").await;
    let (mut cem, _) = Client::join(addr, &b.id, &b.participant_secret, "Cem").await;
    host_a.sync().await;

    // A chat claiming another sender is sent as the real sender.
    anna.send(json!({"type": "chat", "text": "hi", "from": "p0", "name": "Host A"}))
        .await;
    let m = host_a.expect("chat").await;
    assert_eq!(m["message"]["from"], "p1");
    assert_eq!(m["message"]["name"], "Anna");

    // Room A's host acts on ids that exist only in room B: p2 is Cem there, not here.
    for action in ["mute", "stop_video", "remove", "admit", "deny"] {
        host_a
            .send(json!({"type": action, "participant": "p2"}))
            .await;
        host_a.expect_error("unknown_participant").await;
    }
    for bad in ["", "2", "p-1", "p02", "Anna", "p99999999999"] {
        host_a
            .send(json!({"type": "mute", "participant": bad}))
            .await;
        host_a.expect_error("unknown_participant").await;
    }
    host_a.send(json!({"type": "mute", "participant": 1})).await;
    host_a.expect_error("bad_message").await;
    // Room B did not notice anything.
    for c in [&mut host_b, &mut ben, &mut cem] {
        let seen = c.sync().await;
        let updates = of_type(&seen, "participant_updated").len() + of_type(&seen, "error").len();
        assert_eq!(updates, 0, "{seen:?}");
    }
    assert!(cem.closed.is_none());
}
