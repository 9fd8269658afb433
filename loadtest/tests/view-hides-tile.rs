//! A tile the page no longer shows gets no video, and its audio goes on: a student's page
//! shows the other student as a thumbnail, then turns to a layout without thumbnails (another
//! page of the strip); from then on none of that student's video arrives, while its audio and
//! the teacher's video keep coming.

use crate::common;

use std::time::Duration;

use aula_loadtest::BotStats;
use aula_loadtest::view::ViewPolicy;
use common::{simulcast_class, wait_until};

/// Frames already on their way when the view changes have arrived by then.
const IN_FLIGHT: Duration = Duration::from_secs(1);
/// How long the hidden tile is watched.
const WATCH: Duration = Duration::from_secs(3);

fn frames(s: &BotStats, id: &str) -> (u64, u64) {
    s.remote(id)
        .map_or((0, 0), |r| (r.audio.frames, r.video.frames))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_tile_gets_audio_and_no_video() {
    let (server, bots) = simulcast_class(2, ViewPolicy::Stage { thumbnails: 1 }).await;
    let joined = wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let ids: Vec<String> = joined.iter().filter_map(|s| s.id.clone()).collect();
    let (teacher, ben) = (&ids[0], &ids[2]);
    wait_until(&bots[1..2], "Ben's video as a thumbnail", |s| {
        frames(s, ben).1 >= 30 && frames(s, teacher).1 >= 30
    })
    .await;

    assert!(bots[1].set_view(ViewPolicy::Stage { thumbnails: 0 }).await);
    wait_until(&bots[1..2], "the view told", |s| {
        s.remote(ben).is_some_and(|r| r.shown && r.tile.is_none())
    })
    .await;
    tokio::time::sleep(IN_FLIGHT).await;
    let before = bots[1].stats().await.expect("running");
    tokio::time::sleep(WATCH).await;
    let after = bots[1].stats().await.expect("running");

    let (ben_audio, ben_video) = (frames(&before, ben), frames(&after, ben));
    assert_eq!(ben_video.1, ben_audio.1, "no video of a hidden tile");
    // 50 audio frames a second; most of them, on a busy machine.
    assert!(
        ben_video.0 >= ben_audio.0 + 50,
        "audio goes on: {ben_audio:?} -> {ben_video:?}"
    );
    let teacher_video = (frames(&before, teacher).1, frames(&after, teacher).1);
    assert!(
        teacher_video.1 >= teacher_video.0 + 30,
        "the stage goes on: {teacher_video:?}"
    );
    assert!(after.views_sent >= 2);

    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
