//! Janus does the same work as Aula in the comparison: bots publish simulcast to Janus 1.1.2
//! (rids smallest first, `rid_order: "lmh"`) and show what they receive as a page would, by
//! `configure`-ing each subscribed camera's substream. In a class of a teacher and two
//! students whose pages show the teacher large and one thumbnail, each student receives the
//! teacher's largest layer and the other student's smallest. Needs `janus` on `PATH`
//! (Debian's package); without it the test says it is skipped and passes, unless
//! `AULA_REQUIRE_JANUS=1`.

use crate::common;

use std::path::Path;

use aula_loadtest::http::RoomOptions;
use aula_loadtest::media::VideoConfig;
use aula_loadtest::peers::JanusServer;
use aula_loadtest::target::{self, Target};
use aula_loadtest::view::{LARGE, THUMBNAIL, ViewPolicy};
use aula_loadtest::{BotConfig, BotStats};
use common::{LAYERS_KBPS, PATIENCE, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn janus_sends_each_tile_its_layer() {
    let Some(bin) = common::janus() else { return };
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/janus");
    let janus = JanusServer::start(&bin, &config)
        .await
        .expect("janus starts (apt-get install janus)");
    let room = target::create_room(Target::Janus, &janus.url, &RoomOptions::default(), PATIENCE)
        .await
        .expect("janus creates a room");
    let bots: Vec<_> = (0..3)
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
            config.video = Some(VideoConfig::simulcast(LAYERS_KBPS.map(|k| k * 1000)));
            if i > 0 {
                config.view = ViewPolicy::Stage { thumbnails: 1 };
            }
            aula_loadtest::spawn(config)
        })
        .collect();
    let joined = wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let ids: Vec<String> = joined.iter().filter_map(|s| s.id.clone()).collect();

    // Each student: the teacher on the stage, the other student as the thumbnail, and 60
    // frames of each since those tiles were set, all of the layer the tile calls for.
    let other = |s: &BotStats| {
        let me = s.id.as_deref();
        if me == Some(ids[1].as_str()) {
            ids[2].clone()
        } else {
            ids[1].clone()
        }
    };
    let stats = wait_until(&bots[1..], "each tile's layer", |s| {
        let got = |id: &str, layer: usize| {
            s.remote(id)
                .is_some_and(|r| r.since_tile.frames[layer] >= 60)
        };
        got(&ids[0], 2) && got(&other(s), 0)
    })
    .await;
    for s in &stats {
        let teacher = s.remote(&ids[0]).expect("the teacher");
        assert_eq!(teacher.tile, Some(LARGE));
        let thumb = s.remote(&other(s)).expect("the other student");
        assert_eq!(thumb.tile, Some(THUMBNAIL));
        assert_eq!(
            thumb.since_tile.main_layer(),
            Some(0),
            "{:?}",
            thumb.since_tile
        );
        assert_eq!(teacher.since_tile.main_layer(), Some(2));
        assert!(s.errors.is_empty(), "{:?}", s.errors);
    }
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    janus.stop();
}
