//! A subscribe offer with `reset` is answered on a new subscribe connection: a bot that says
//! it could not apply the latest offer (`subscribe_failed`) gets one, answers it on a new
//! str0m `Rtc` and socket, and receives the teacher's media again through it.

use crate::common;

use aula_loadtest::BotConfig;
use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
use common::wait_until;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_offer_is_answered_on_a_new_connection() {
    let server = aula_signaling::start(aula_signaling::Config::for_tests())
        .await
        .expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    let options = RoomOptions::no_lobby(RoomKind::Class);
    let room = http::create_room(&url, &options, common::PATIENCE)
        .await
        .expect("room created");
    let ws = url.ws_url();
    let secret = |s: Option<&str>| s.expect("k= in the link").to_owned();
    let teacher = BotConfig::new(&ws, &room.id, &secret(room.host_secret()), "Frau Weber");
    let student = BotConfig::new(&ws, &room.id, &secret(room.participant_secret()), "Anna");
    let bots = [aula_loadtest::spawn(teacher), aula_loadtest::spawn(student)];
    let stats = wait_until(&bots, "media", |s| s.first_media.is_some()).await;
    let teacher_id = stats[0].id.clone().expect("joined");

    let failed = json!({"type": "subscribe_failed", "reason": "a test says so"});
    assert!(bots[1].send_json(failed).await);
    let s = wait_until(&bots[1..], "a reset offer answered", |s| {
        s.subscribe_resets == 1
    })
    .await;
    assert!(s[0].errors.is_empty(), "{:?}", s[0].errors);
    // The old connection is closed and its socket gone: frames from now on come through
    // the new one.
    let frames = |s: &aula_loadtest::BotStats| s.remote(&teacher_id).map_or(0, |r| r.video.frames);
    let from = frames(&s[0]);
    wait_until(&bots[1..], "video through the new connection", |s| {
        frames(s) > from + 10
    })
    .await;
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
