//! Renewing the participant link: the old link admits nobody new, the new one works, who is
//! in stays in (and gets back in with the old link after a dropped connection), and every
//! host learns the new link.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::json;

#[tokio::test]
async fn the_old_link_stops_admitting() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let anna_session = first["session"].as_str().unwrap().to_string();
    let (mut cohost, _) = Client::join(addr, &room.id, &room.participant_secret, "Herr Roth").await;
    host.send(json!({"type": "set_role", "participant": "p2", "role": "host"}))
        .await;
    cohost.expect("host_info").await;

    anna.send(json!({"type": "renew_link"})).await;
    anna.expect_error("forbidden").await;
    host.send(json!({"type": "renew_link"})).await;
    let renewed = host.expect("link_renewed").await;
    let new_secret = renewed["participant_secret"].as_str().unwrap().to_string();
    assert_eq!(new_secret.len(), 32);
    assert_ne!(new_secret, room.participant_secret);
    assert_eq!(
        cohost.expect("link_renewed").await["participant_secret"],
        new_secret.as_str()
    );
    // Participants never see a link.
    assert!(of_type(&anna.sync().await, "link_renewed").is_empty());

    let (mut intruder, first) =
        Client::join(addr, &room.id, &room.participant_secret, "Intruder").await;
    assert_eq!(first["code"], "bad_secret", "{first}");
    assert_eq!(intruder.expect_closed().await, Some(4000));
    let (_ben, first) = Client::join(addr, &room.id, &new_secret, "Ben").await;
    assert_eq!(first["type"], "joined");
    // Anna's connection drops; her browser comes back with the old link and her session.
    anna.send(json!({"type": "leave"})).await;
    anna.expect_closed().await;
    let (_anna, back) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Anna",
        Some(&anna_session),
    )
    .await;
    assert_eq!(back["type"], "joined", "{back}");
    // A host joining later is given the new link.
    let (_t, joined) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(joined["participant_secret"], new_secret.as_str());
}
