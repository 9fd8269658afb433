//! A simulcast camera reaches subscribers: a teacher's bot publishes three layers (`q`, `h`,
//! `f`, with `tracks[].layers`), the server takes all three, and a student whose page has sent
//! no `view` yet receives the camera at the middle layer, as docs/protocol.md says of a page
//! before its first `view`.

use crate::common;

use aula_loadtest::view::ViewPolicy;
use common::{simulcast_class, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_without_a_view_gets_the_middle_layer() {
    let (server, bots) = simulcast_class(1, ViewPolicy::None).await;
    let joined = wait_until(&bots, "joins", |s| s.id.is_some()).await;
    let teacher = joined[0].id.clone().expect("joined");

    let stats = wait_until(&bots[1..], "60 frames of the teacher's camera", |s| {
        s.remote(&teacher).is_some_and(|r| r.video.frames >= 60)
    })
    .await;
    let video = &stats[0].remote(&teacher).expect("seen").video;
    let [q, h, f] = video.layers.frames;
    assert!(h >= 60, "the middle layer: {:?}", video.layers);
    assert!(
        q + f <= 2,
        "no other layer but a frame or so: {:?}",
        video.layers
    );
    assert_eq!(stats[0].views_sent, 0);

    let teacher_stats = bots[0].stats().await.expect("running");
    let sent = teacher_stats.sent.layer_frames;
    assert!(
        sent.iter().all(|&n| n >= 60),
        "every layer is sent: {sent:?}"
    );
    assert!(
        teacher_stats.errors.is_empty(),
        "{:?}",
        teacher_stats.errors
    );
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
