//! Host moderation over real sockets: mute, mute all, stop camera, settings that take a
//! permission away, removal (and that the removed session stays out), lock, co-hosts.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::json;

/// A class without a lobby, its host, and `names` participants in it.
async fn class(
    addr: std::net::SocketAddr,
    names: &[&str],
) -> (common::client::Room, Client, Vec<Client>) {
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let mut others = Vec::new();
    for name in names {
        let (c, joined) = Client::join(addr, &room.id, &room.participant_secret, name).await;
        assert_eq!(joined["type"], "joined");
        others.push(c);
    }
    host.sync().await;
    (room, host, others)
}

#[tokio::test]
async fn mute_stop_video_and_unmute_rules() {
    let (_server, addr) = server().await;
    let (_room, mut host, mut kids) = class(addr, &["Anna", "Ben"]).await;
    let [anna, ben] = kids.as_mut_slice() else {
        unreachable!()
    };

    // Students join muted; unmuting is allowed by default in a class.
    let seen = anna
        .roundtrip(json!({"type": "media_state", "audio": true, "video": true}))
        .await;
    assert_eq!(
        of_type(&seen, "participant_updated")[0]["participant"]["audio"],
        true
    );

    ben.sync().await;
    host.send(json!({"type": "mute", "participant": "p1"}))
        .await;
    let m = anna.expect("moderated").await;
    assert_eq!(
        m,
        json!({"type": "moderated", "action": "mute", "by": "p0"})
    );
    let u = ben.expect("participant_updated").await;
    assert_eq!(
        (
            u["participant"]["id"].as_str(),
            u["participant"]["audio"].as_bool()
        ),
        (Some("p1"), Some(false))
    );

    host.send(json!({"type": "stop_video", "participant": "p1"}))
        .await;
    assert_eq!(anna.expect("moderated").await["action"], "stop_video");

    // The teacher takes the permission to unmute away: asking is refused, nothing changes.
    host.send(json!({"type": "settings", "unmute": false}))
        .await;
    anna.expect("settings_updated").await;
    let seen = anna
        .roundtrip(json!({"type": "media_state", "audio": true, "video": false}))
        .await;
    assert_eq!(of_type(&seen, "error")[0]["code"], "forbidden");
    assert!(of_type(&seen, "participant_updated").is_empty(), "{seen:?}");
    // Turning things off is always allowed; hosts are never restricted.
    let seen = host
        .roundtrip(json!({"type": "media_state", "audio": true, "video": true}))
        .await;
    assert!(of_type(&seen, "error").is_empty(), "{seen:?}");
}

#[tokio::test]
async fn mute_all_and_settings_switch_sources_off() {
    let (_server, addr) = server().await;
    let (_room, mut host, mut kids) = class(addr, &["Anna", "Ben"]).await;
    for kid in kids.iter_mut() {
        kid.roundtrip(json!({"type": "media_state", "audio": true, "video": true}))
            .await;
    }
    host.send(json!({"type": "mute_all"})).await;
    for kid in kids.iter_mut() {
        assert_eq!(kid.expect("moderated").await["action"], "mute");
    }
    let seen = host.sync().await;
    let muted: Vec<_> = of_type(&seen, "participant_updated")
        .iter()
        .filter(|u| u["participant"]["audio"] == false)
        .map(|u| u["participant"]["id"].clone())
        .collect();
    assert_eq!(muted, [json!("p1"), json!("p2")]);
    // The host itself was not muted.
    assert!(of_type(&seen, "moderated").is_empty());

    // Cameras off by setting: every student's camera goes off, with `by: null`.
    host.send(json!({"type": "settings", "video": false})).await;
    for kid in kids.iter_mut() {
        let m = kid.expect("moderated").await;
        assert_eq!(
            m,
            json!({"type": "moderated", "action": "stop_video", "by": null})
        );
    }
}

#[tokio::test]
async fn removed_participants_stay_out_with_their_session() {
    let (_server, addr) = server().await;
    let (room, mut host, mut kids) = class(addr, &["Mallory", "Ben"]).await;
    let session = kids[0].seen[0]["session"].as_str().unwrap().to_string();

    host.send(json!({"type": "remove", "participant": "p1"}))
        .await;
    kids[0].expect_error("removed").await;
    assert_eq!(kids[0].expect_closed().await, Some(4000));
    assert_eq!(kids[1].expect("participant_left").await["id"], "p1");

    let (mut again, first) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Mallory",
        Some(&session),
    )
    .await;
    assert_eq!(
        (first["type"].as_str(), first["code"].as_str()),
        (Some("error"), Some("removed"))
    );
    assert_eq!(again.expect_closed().await, Some(4000));

    // Hosts cannot remove themselves, or a host who holds the host link.
    let (mut cohost, _) = Client::join(addr, &room.id, &room.host_secret, "Herr Roth").await;
    host.send(json!({"type": "remove", "participant": "p0"}))
        .await;
    host.expect_error("forbidden").await;
    cohost
        .send(json!({"type": "remove", "participant": "p0"}))
        .await;
    cohost.expect_error("forbidden").await;
}

#[tokio::test]
async fn a_locked_room_takes_nobody_new_but_lets_members_back() {
    let (_server, addr) = server().await;
    let (room, mut host, mut kids) = class(addr, &["Anna"]).await;
    let session = kids[0].seen[0]["session"].as_str().unwrap().to_string();
    host.roundtrip(json!({"type": "settings", "locked": true}))
        .await;

    let (mut stranger, first) =
        Client::join(addr, &room.id, &room.participant_secret, "Stranger").await;
    assert_eq!(first["code"], "room_locked", "{first}");
    assert_eq!(stranger.expect_closed().await, Some(4000));

    kids[0].send(json!({"type": "leave"})).await;
    kids[0].expect_closed().await;
    let (_anna, back) = Client::join_session(
        addr,
        &room.id,
        &room.participant_secret,
        "Anna",
        Some(&session),
    )
    .await;
    assert_eq!(back["type"], "joined", "{back}");
    // The teacher on another device gets in too.
    let (_t, first) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    assert_eq!(first["type"], "joined");
}

#[tokio::test]
async fn a_co_host_can_moderate_and_can_be_demoted() {
    let (_server, addr) = server().await;
    let (_room, mut host, mut kids) = class(addr, &["Herr Roth", "Anna"]).await;
    let [roth, anna] = kids.as_mut_slice() else {
        unreachable!()
    };

    roth.send(json!({"type": "mute_all"})).await;
    roth.expect_error("forbidden").await;
    host.send(json!({"type": "set_role", "participant": "p1", "role": "host"}))
        .await;
    let info = roth.expect("host_info").await;
    assert_eq!(info["participant_secret"].as_str().unwrap().len(), 32);
    assert_eq!(
        anna.expect("participant_updated").await["participant"]["role"],
        "host"
    );

    anna.roundtrip(json!({"type": "media_state", "audio": true, "video": true}))
        .await;
    roth.send(json!({"type": "mute", "participant": "p2"}))
        .await;
    assert_eq!(anna.expect("moderated").await["by"], "p1");

    // The co-host cannot demote the teacher who holds the host link.
    roth.send(json!({"type": "set_role", "participant": "p0", "role": "participant"}))
        .await;
    roth.expect_error("forbidden").await;
    // Demoted, the co-host loses what participants may not have: here the screen share.
    roth.roundtrip(json!({"type": "media_state", "audio": true, "video": true, "screen": true}))
        .await;
    host.send(json!({"type": "set_role", "participant": "p1", "role": "participant"}))
        .await;
    assert_eq!(roth.expect("moderated").await["action"], "stop_screen");
    roth.send(json!({"type": "mute", "participant": "p2"}))
        .await;
    roth.expect_error("forbidden").await;
}
