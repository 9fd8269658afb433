//! A bot that comes back after the server's resume grace gets `resume_failed`, joins again
//! with its session as a new participant on new media connections, and its media reaches the
//! teacher again under its new id; the teacher saw the old one leave.

use crate::common;

use std::time::Duration;

use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
use aula_loadtest::{BotConfig, Churn};
use common::{wait_for, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_the_grace_joins_anew() {
    let mut config = aula_signaling::Config::for_tests();
    config.resume_grace_secs = 1;
    let server = aula_signaling::start(config).await.expect("server starts");
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
    let old_id = stats[1].id.clone().expect("joined");

    assert!(bots[1].churn(Churn::Resume, Duration::from_secs(3)).await);
    let churn = wait_for("the student back", async || {
        let s = bots[1].stats().await?;
        s.churns.first().filter(|c| c.back.is_some()).cloned()
    })
    .await;
    assert!(churn.fell_back, "{churn:?}");
    let s = bots[1].stats().await.expect("running");
    let new_id = s.id.clone().expect("joined");
    assert_ne!(new_id, old_id, "a new participant");
    assert_eq!(s.presences.len(), 2, "{:?}", s.presences);
    assert_eq!(s.presences[0].left, Some(churn.started));
    let error = bots[1].last_message("error").await.expect("an error");
    assert_eq!(error["code"], "resume_failed");

    let t = wait_until(&bots[..1], "the new student's media", |t| {
        t.has_media_from(&new_id)
    })
    .await;
    assert!(
        t[0].remote(&old_id).is_some_and(|r| r.left.is_some()),
        "the old participant left"
    );
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
