//! The tile size a page reports (`view`) picks the layer it receives: in a class of a teacher
//! and two students, each student's page shows the teacher large (1280×720) and the other
//! student as its one thumbnail (320×180). Each receives the teacher at about the largest
//! layer's bitrate and the other student at about the smallest's, frames from those layers.

use crate::common;

use std::time::Duration;

use aula_loadtest::view::{LARGE, THUMBNAIL, ViewPolicy};
use common::{LAYERS_KBPS, simulcast_class, video_kbps, wait_until};

/// Long enough to average out a keyframe (4 frames' worth, every 5 s per layer).
const WINDOW: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_gets_the_large_layer_and_a_thumbnail_the_small_one() {
    let (server, bots) = simulcast_class(2, ViewPolicy::Stage { thumbnails: 1 }).await;
    let joined = wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let ids: Vec<String> = joined.iter().filter_map(|s| s.id.clone()).collect();
    let (teacher, anna, ben) = (&ids[0], &ids[1], &ids[2]);

    // Each tile set, and its layer's frames arriving for a while since.
    let settled = |s: &aula_loadtest::BotStats, id: &str| {
        s.remote(id)
            .is_some_and(|r| r.tile.is_some() && r.since_tile.total_frames() >= 60)
    };
    let stats = wait_until(&bots[1..], "tiles set and filled", |s| {
        let other = if s.id.as_deref() == Some(anna) {
            ben
        } else {
            anna
        };
        settled(s, teacher) && settled(s, other)
    })
    .await;
    for s in &stats {
        let other = if s.id.as_deref() == Some(anna) {
            ben
        } else {
            anna
        };
        assert_eq!(s.remote(teacher).and_then(|r| r.tile), Some(LARGE));
        assert_eq!(s.remote(other).and_then(|r| r.tile), Some(THUMBNAIL));
        assert!(s.views_sent >= 1);
    }

    // The subscriber's bandwidth estimate starts low and climbs; the server moves up a layer
    // only once the estimate has had room for it for a while (sfu/src/allocate.rs). So the
    // stage may reach the large layer a window or two after its tile was set, not later.
    let mut large_measured = video_kbps(&bots[1], teacher, WINDOW).await;
    for _ in 0..2 {
        if large_measured.1 == Some(2) {
            break;
        }
        println!("stage still climbing: {large_measured:?}");
        large_measured = video_kbps(&bots[1], teacher, WINDOW).await;
    }
    let (large, large_layer) = large_measured;
    let (small, small_layer) = video_kbps(&bots[1], ben, WINDOW).await;
    println!("stage {large:.0} kbit/s, thumbnail {small:.0} kbit/s");
    assert_eq!((large_layer, small_layer), (Some(2), Some(0)));
    let near = |kbps: f64, want: u32| (0.6..1.5).contains(&(kbps / f64::from(want)));
    assert!(
        near(large, LAYERS_KBPS[2]),
        "{large:.0} kbit/s for the stage"
    );
    assert!(
        near(small, LAYERS_KBPS[0]),
        "{small:.0} kbit/s for the thumbnail"
    );
    let (other, other_layer) = video_kbps(&bots[2], anna, WINDOW).await;
    assert_eq!(other_layer, Some(0));
    assert!(
        near(other, LAYERS_KBPS[0]),
        "{other:.0} kbit/s for Ben's thumbnail"
    );

    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
