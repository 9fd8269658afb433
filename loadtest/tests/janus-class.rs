//! The same bots against a real Janus 1.1.2 (started here with `loadtest/peers/janus/`): three
//! join one VideoRoom room, every one gets audio and video from every other, and when one
//! leaves the others see it go. Needs `janus` on `PATH` (Debian's package); without it the
//! test says it is skipped and passes, unless `AULA_REQUIRE_JANUS=1`.

use crate::common;

use std::path::Path;

use aula_loadtest::http::RoomOptions;
use aula_loadtest::peers::JanusServer;
use aula_loadtest::target::{self, Target};
use aula_loadtest::{BotConfig, BotHandle, BotStats};
use common::{PATIENCE, wait_until};

async fn start_janus(bin: &Path) -> JanusServer {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/janus");
    JanusServer::start(bin, &config)
        .await
        .expect("janus starts (apt-get install janus)")
}

fn spawn_bots(janus: &JanusServer, room: &target::RoomTicket, n: usize) -> Vec<BotHandle> {
    (0..n)
        .map(|i| {
            let secret = if i == 0 {
                &room.host_secret
            } else {
                &room.participant_secret
            };
            let ws = Target::Janus.ws_url(&janus.url);
            let mut config = BotConfig::new(&ws, &room.id, secret, &format!("bot-{i}"));
            config.target = Target::Janus;
            config.local_ip = janus.media_ip;
            config.seed = i as u64;
            aula_loadtest::spawn(config)
        })
        .collect()
}

fn media_from_all(s: &BotStats, ids: &[String]) -> bool {
    let me = s.id.as_deref();
    ids.iter().filter(|id| Some(id.as_str()) != me).all(|id| {
        s.remote(id)
            .is_some_and(|r| r.audio.frames > 0 && r.video.frames > 0)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_exchange_media_through_janus_and_see_leaves() {
    let Some(bin) = common::janus() else { return };
    let janus = start_janus(&bin).await;
    let options = RoomOptions::default().title("7b");
    let room = target::create_room(Target::Janus, &janus.url, &options, PATIENCE)
        .await
        .expect("janus creates a room");
    let mut bots = spawn_bots(&janus, &room, 3);
    let joined = wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let ids: Vec<String> = joined.iter().filter_map(|s| s.id.clone()).collect();
    assert_eq!(joined[0].role.as_deref(), Some("host"));

    let stats = wait_until(&bots, "media from every other bot", |s| {
        media_from_all(s, &ids)
    })
    .await;
    for s in &stats {
        assert!(s.publish_ice_connected.is_some() && s.subscribe_ice_connected.is_some());
        let me = s.id.as_deref().expect("joined");
        assert!(s.remote(me).is_none(), "{me} does not receive itself");
        assert!(s.errors.is_empty(), "{me} saw errors: {:?}", s.errors);
    }

    let leaver = bots.pop().expect("three bots");
    let gone = ids[2].clone();
    let report = leaver.leave().await;
    assert!(report.error.is_none(), "{:?}", report.error);
    wait_until(&bots, "participant left", |s| {
        s.remote(&gone).is_some_and(|r| r.left.is_some())
    })
    .await;
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    janus.stop();
}
