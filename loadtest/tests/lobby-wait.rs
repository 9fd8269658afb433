//! A bot in a class with a lobby waits there (`BotStats::lobby`), receives nothing, and joins
//! once the host admits it; the host bot admits it with `BotHandle::send_json`, finding its id
//! with `BotHandle::last_message("lobby_updated")`.

use crate::common;

use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
use aula_loadtest::{BotConfig, BotHandle, BotStats};
use common::{PATIENCE, wait_for};
use serde_json::{Value, json};

async fn stats(bot: &BotHandle) -> BotStats {
    bot.stats().await.expect("bot still running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_waits_in_the_lobby_until_the_host_admits_it() {
    let server = aula_signaling::start(aula_signaling::Config::for_tests())
        .await
        .expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    let options = RoomOptions::no_lobby(RoomKind::Class).lobby(true);
    let room = http::create_room(&url, &options, PATIENCE)
        .await
        .expect("room created");
    let secret = |s: Option<&str>| s.expect("k= in the link").to_owned();
    let ws = url.ws_url();
    let host = BotConfig::new(&ws, &room.id, &secret(room.host_secret()), "Frau Weber");
    let host = aula_loadtest::spawn(host);
    wait_for("host joined", async || stats(&host).await.joined).await;
    let student = BotConfig::new(&ws, &room.id, &secret(room.participant_secret()), "Anna");
    let student = aula_loadtest::spawn(student);

    let waiting = wait_for("lobby_updated", async || {
        let msg = host.last_message("lobby_updated").await?;
        let id = msg.pointer("/waiting/0").and_then(Value::as_str)?;
        Some(id.to_owned())
    })
    .await;
    let s = stats(&student).await;
    assert!(
        s.lobby.is_some() && s.session.is_some() && s.joined.is_none(),
        "{s:#?}"
    );
    assert!(
        s.remotes.is_empty() && s.subscribe_offers == 0,
        "nothing reaches the lobby"
    );
    // What a participant may do is refused while it waits (the refusal is awaited: the
    // hand and the admit travel on different sockets, and an admit handled first would let
    // the hand through).
    assert!(student.raise_hand().await);
    wait_for("not_admitted for the hand", async || {
        let error = student.last_message("error").await?;
        (error["code"] == "not_admitted").then_some(())
    })
    .await;

    assert!(
        host.send_json(json!({"type": "admit", "participant": waiting}))
            .await
    );
    let host_id = stats(&host).await.id.expect("joined");
    wait_for("media from the host", async || {
        stats(&student).await.has_media_from(&host_id).then_some(())
    })
    .await;
    let s = stats(&student).await;
    assert_eq!(s.id.as_deref(), Some(waiting.as_str()));
    assert_eq!(s.role.as_deref(), Some("participant"));
    let error = student.last_message("error").await.expect("an error");
    assert_eq!(error["code"], "not_admitted");
    // Joined muted, as class participants do; media_state turned the microphone on.
    assert!(s.you.as_ref().is_some_and(|you| you.audio), "{s:#?}");
    for bot in [student, host] {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
