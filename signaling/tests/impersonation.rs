//! Nobody passes for the teacher: a participant may not join with the name of a host who is in
//! the room (case and spaces aside), nor with invisible characters that make a name look like
//! hers; the refused page corrects the name on the same socket.

use crate::common;

use common::client::{Client, create, server};
use serde_json::json;

#[tokio::test]
async fn a_participant_cannot_take_a_present_hosts_name() {
    let (_server, addr) = server().await;
    for lobby in [false, true] {
        let room = create(addr, json!({"kind": "class", "lobby": lobby})).await;
        let (mut teacher, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
        for copy in ["frau  WEBER", "Frau\u{200B} Weber", "Frau Weber\u{FEFF}"] {
            let (mut c, first) = Client::join(addr, &room.id, &room.participant_secret, copy).await;
            assert_eq!(first["type"], "error", "{copy:?} (lobby {lobby}): {first}");
            let code = first["code"].as_str().unwrap();
            assert!(["name_taken", "bad_name"].contains(&code), "{first}");
            // The socket stays open: the page corrects the name.
            let join = json!({"type": "join", "v": 1, "room": room.id,
                "secret": room.participant_secret, "name": "Anna"});
            c.send(join).await;
            let answer = c.next().await.expect("the same socket");
            let want = if lobby { "lobby" } else { "joined" };
            assert_eq!(answer["type"], want, "{answer}");
            c.send(json!({"type": "leave"})).await;
            c.expect_closed().await;
        }
        let (_, first) = Client::join(addr, &room.id, &room.participant_secret, "frau weber").await;
        assert_eq!(first["code"], "name_taken", "{first}");
        // A second teacher may share her name (the host link is the proof), and once no host
        // of that name is in the room, the name is free again.
        let (mut second, first) =
            Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
        assert_eq!(first["type"], "joined");
        for host in [&mut teacher, &mut second] {
            host.send(json!({"type": "leave"})).await;
            host.expect_closed().await;
        }
        let (_c, first) =
            Client::join(addr, &room.id, &room.participant_secret, "Frau Weber").await;
        assert_ne!(first["type"], "error", "{first}");
    }
}
