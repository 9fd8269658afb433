//! Every error says which request it answers (`re`), so a client never has to guess whether a
//! `bad_sdp` refused its publish or its subscribe answer; `ping` is answered with `pong`
//! before and after joining, so a page can tell a live socket from a stalled one.

use crate::common;

use common::client::{Client, create, server};
use serde_json::json;

#[tokio::test]
async fn errors_name_the_request_they_answer_and_pings_are_answered() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;

    let mut early = Client::connect(addr).await;
    early.send(json!({"type": "ping"})).await;
    assert_eq!(early.next().await.unwrap(), json!({"type": "pong"}));
    early.send(json!({"type": "chat", "text": "hi"})).await;
    let e = early.expect_error("not_joined").await;
    assert_eq!(e["re"], "chat");

    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    host.send(json!({"type": "settings", "chat": false})).await;
    anna.expect("settings_updated").await;

    anna.send(json!({"type": "chat", "text": "hallo"})).await;
    assert_eq!(anna.expect_error("forbidden").await["re"], "chat");
    anna.send(json!({"type": "publish", "sdp": "not sdp", "tracks": []}))
        .await;
    assert_eq!(anna.expect_error("bad_sdp").await["re"], "publish");
    anna.send(json!({"type": "subscribe_answer", "sdp": "v=0"}))
        .await;
    assert_eq!(
        anna.expect_error("unexpected_answer").await["re"],
        "subscribe_answer"
    );
    anna.send(json!({"type": "ice_restart", "pc": "publish"}))
        .await;
    assert_eq!(anna.expect_error("bad_message").await["re"], "ice_restart");
    anna.send(json!({"type": "mute", "participant": "p0"}))
        .await;
    assert_eq!(anna.expect_error("forbidden").await["re"], "mute");
    anna.send(json!({"type": "ping"})).await;
    assert_eq!(anna.expect("pong").await, json!({"type": "pong"}));

    // Not a request the server could name: no `re`.
    anna.send(json!({"type": "no_such_thing"})).await;
    let e = anna.expect_error("unknown_type").await;
    assert!(e.get("re").is_none(), "{e}");
}
