//! Taking the host link back: the room's lead is its creator (who joins with the host link and
//! the creator key), or until she comes the first to join with the host link. The lead may
//! remove or demote someone else who came with the host link (a student who read it off a
//! shared screen) and renew the host link, which then admits nobody; nobody else may do
//! either, to the lead or to anyone.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::json;

#[tokio::test]
async fn the_lead_removes_an_intruder_with_the_host_link_and_renews_it() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut teacher, joined) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(joined["lead"], true, "{joined}");
    assert_eq!(joined["you"]["host_link"], true);
    let (mut intruder, joined) = Client::join(addr, &room.id, &room.host_secret, "Kevin").await;
    assert_eq!(joined["you"]["role"], "host");
    assert!(joined.get("lead").is_none(), "one lead: {joined}");
    let teacher_id = "p0";
    let intruder_id = joined["you"]["id"].as_str().unwrap().to_string();

    // The intruder can do nothing to the teacher, nor renew the host link.
    for msg in [
        json!({"type": "remove", "participant": teacher_id}),
        json!({"type": "set_role", "participant": teacher_id, "role": "participant"}),
        json!({"type": "renew_host_link"}),
    ] {
        intruder.send(msg.clone()).await;
        intruder.expect_error("forbidden").await;
    }
    // A host made by promotion cannot either.
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let anna_id = "p2";
    teacher
        .roundtrip(json!({"type": "set_role", "participant": anna_id, "role": "host"}))
        .await;
    anna.expect("host_info").await;
    anna.send(json!({"type": "remove", "participant": teacher_id}))
        .await;
    anna.expect_error("forbidden").await;

    // The lead removes the intruder and renews the host link.
    teacher
        .send(json!({"type": "remove", "participant": intruder_id}))
        .await;
    intruder.expect_error("removed").await;
    intruder.expect_closed().await;
    teacher.send(json!({"type": "renew_host_link"})).await;
    let renewed = teacher.expect("host_link_renewed").await;
    let new_secret = renewed["host_secret"].as_str().unwrap().to_string();
    assert_eq!(new_secret.len(), 32);
    let seen = anna.sync().await;
    assert!(
        seen.iter().all(|m| m["type"] != "host_link_renewed"),
        "only the lead learns it"
    );

    // The old host link admits nobody, the new one does (as a host, not the lead).
    let (mut old, first) = Client::join(addr, &room.id, &room.host_secret, "Kevin 2").await;
    assert_eq!(first["code"], "bad_secret", "{first}");
    old.expect_closed().await;
    let (_colleague, joined) = Client::join(addr, &room.id, &new_secret, "Herr Roth").await;
    assert_eq!(joined["you"]["role"], "host");
    assert!(joined.get("lead").is_none());
}

#[tokio::test]
async fn the_lead_demotes_a_host_link_holder_who_is_then_a_host_like_any_other() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut lead, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut other, joined) = Client::join(addr, &room.id, &room.host_secret, "Herr Roth").await;
    let other_id = joined["you"]["id"].as_str().unwrap().to_string();
    lead.roundtrip(json!({"type": "set_role", "participant": other_id, "role": "participant"}))
        .await;
    let update = loop {
        let u = other.expect("participant_updated").await;
        if u["participant"]["id"] == other_id.as_str() {
            break u;
        }
    };
    assert_eq!(update["participant"]["role"], "participant");
    assert_eq!(update["participant"]["host_link"], false);
    // The lead leaves and comes back with the same session: still the lead.
    let session = lead.seen[0]["session"].as_str().unwrap().to_string();
    lead.send(json!({"type": "leave"})).await;
    lead.expect_closed().await;
    let (_lead, joined) = Client::join_session(
        addr,
        &room.id,
        &room.host_secret,
        "Frau Weber",
        Some(&session),
    )
    .await;
    assert_eq!(joined["lead"], true, "{joined}");
}

/// A student who read the host link off the screen gets in first and leads in the teacher's
/// place, and even renews the host link; the teacher comes with the creator key (and the old
/// link) and is the host and the lead from then on, the stand-in is told and can do nothing
/// to her. She closes her tab (a new session) and comes back: still the lead.
#[tokio::test]
async fn the_creator_leads_from_any_tab_and_a_stand_in_lead_gives_way() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    assert_eq!(room.creator_key.len(), 32);
    assert_ne!(room.creator_key, room.host_secret);
    let (mut kevin, joined) = Client::join(addr, &room.id, &room.host_secret, "Kevin").await;
    assert_eq!(
        joined["lead"], true,
        "the first with the host link stands in: {joined}"
    );

    // A wrong key, or the key with the participant link, is no key (and no error).
    let (_wrong, joined) =
        Client::join_as_creator(addr, &room, &room.host_secret, "Herr Roth").await;
    assert_eq!(joined["type"], "joined", "{joined}");
    assert!(joined.get("lead").is_none(), "{joined}");
    let mut student = Client::connect(addr).await;
    student
        .send(
            json!({"type": "join", "v": 1, "room": room.id, "secret": room.participant_secret,
            "name": "Anna", "creator": room.creator_key}),
        )
        .await;
    let joined = student.next().await.unwrap();
    assert_eq!(joined["you"]["role"], "participant", "{joined}");
    assert!(joined.get("lead").is_none(), "{joined}");
    let seen = kevin.sync().await;
    assert!(
        of_type(&seen, "host_info").is_empty(),
        "still the lead: {seen:?}"
    );

    // Standing in, Kevin renews the host link: the link the teacher has admits nobody now...
    kevin.send(json!({"type": "renew_host_link"})).await;
    kevin.expect("host_link_renewed").await;
    let (mut locked_out, first) =
        Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(first["code"], "bad_secret", "{first}");
    locked_out.expect_closed().await;
    // ...but with her creator key she is the host, and the lead.
    let (mut teacher, joined) =
        Client::join_as_creator(addr, &room, &room.creator_key, "Frau Weber").await;
    assert_eq!(joined["you"]["role"], "host", "{joined}");
    assert_eq!(joined["lead"], true, "{joined}");
    let teacher_id = joined["you"]["id"].as_str().unwrap().to_string();
    let info = kevin.expect("host_info").await;
    assert_eq!(info["lead"], false, "the stand-in is told: {info}");
    for msg in [
        json!({"type": "remove", "participant": teacher_id}),
        json!({"type": "renew_host_link"}),
    ] {
        kevin.send(msg).await;
        kevin.expect_error("forbidden").await;
    }

    // She closes her tab: a new socket and a new session, with the key: the lead again.
    teacher.send(json!({"type": "leave"})).await;
    teacher.expect_closed().await;
    let (mut teacher, joined) =
        Client::join_as_creator(addr, &room, &room.creator_key, "Frau Weber").await;
    assert_eq!(joined["lead"], true, "{joined}");
    let kevin_id = "p0";
    teacher
        .send(json!({"type": "remove", "participant": kevin_id}))
        .await;
    kevin.expect_error("removed").await;
    teacher.send(json!({"type": "renew_host_link"})).await;
    teacher.expect("host_link_renewed").await;
}
