//! The bots' audio level reaches the server's active-speaker detection, and `speakers` reaches
//! the bots: in a meeting of a talking bot and a silent one, both see the talker as dominant;
//! when they swap levels (`BotHandle::set_audio_level`), the dominant speaker moves.

use crate::common;

use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
use aula_loadtest::media::{SILENT_DBOV, TALKING_DBOV};
use aula_loadtest::{BotConfig, BotHandle};
use common::{PATIENCE, wait_until};

fn bot(url: &ServerUrl, room: &http::CreatedRoom, name: &str, level: i8) -> BotHandle {
    let secret = room.participant_secret().expect("k= in the link");
    let mut config = BotConfig::new(&url.ws_url(), &room.id, secret, name);
    config.video = None;
    if let Some(audio) = &mut config.audio {
        audio.level_dbov = level;
    }
    aula_loadtest::spawn(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_talking_bot_is_the_dominant_speaker() {
    let server = aula_signaling::start(aula_signaling::Config::for_tests())
        .await
        .expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    let options = RoomOptions::no_lobby(RoomKind::Meeting);
    let room = http::create_room(&url, &options, PATIENCE)
        .await
        .expect("room created");
    let bots = [
        bot(&url, &room, "Anna", TALKING_DBOV),
        bot(&url, &room, "Ben", SILENT_DBOV),
    ];
    wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let anna = bots[0].stats().await.and_then(|s| s.id).expect("joined");
    let ben = bots[1].stats().await.and_then(|s| s.id).expect("joined");

    wait_until(&bots, "anna dominant", |s| {
        s.dominant.as_ref() == Some(&anna)
    })
    .await;
    assert!(bots[0].set_audio_level(SILENT_DBOV).await);
    assert!(bots[1].set_audio_level(TALKING_DBOV).await);
    wait_until(&bots, "ben dominant", |s| s.dominant.as_ref() == Some(&ben)).await;
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
        assert!(report.stats.speakers_events >= 2, "{:?}", report.stats);
    }
    server.shutdown().await;
}
