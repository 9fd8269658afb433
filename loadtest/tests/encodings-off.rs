//! An encoding nobody takes is switched off at its publisher, as a page does with
//! `RTCRtpSender.setParameters` when the server says so (`encodings`): in a class of a
//! teacher and one student, the student's page shows the teacher large (the teacher's `f`,
//! once the student's link estimate has grown to it) and the teacher's page sends no `view`
//! (the server's default, the middle layer `h`), so each has layers nobody takes. While the
//! server's latest `encodings` stands, a bot sends exactly the layers it names active.

use crate::common;

use std::time::Duration;

use aula_loadtest::view::ViewPolicy;
use aula_loadtest::{BotHandle, BotStats};
use common::{simulcast_class, wait_until};

/// How long the layers are watched.
const WATCH: Duration = Duration::from_secs(2);
/// Watches until one passes with no new `encodings` during it: the estimates that decide
/// which layer the pages get move for a few seconds after the joins.
const ATTEMPTS: usize = 8;

/// The rids the latest `encodings` says to send, in q, h, f order; `None` before any.
async fn active(bot: &BotHandle) -> Option<[bool; 3]> {
    let msg = bot.last_message("encodings").await?;
    let mut on = [false; 3];
    for e in msg["encodings"].as_array()? {
        let i = ["q", "h", "f"].iter().position(|r| e["rid"] == *r)?;
        on[i] = e["active"] == true;
    }
    Some(on)
}

fn counted(s: &BotStats) -> (u64, [u64; 3]) {
    (s.sent.encodings_messages, s.sent.layer_frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_nobody_takes_stop_at_the_publisher() {
    let (server, bots) = simulcast_class(1, ViewPolicy::Stage { thumbnails: 9 }).await;
    let mut checked = [false; 2];
    for _ in 0..ATTEMPTS {
        let before = wait_until(&bots, "switched encodings", |s| {
            s.sent.encodings_messages >= 1
        })
        .await;
        // Frames written before the latest message are on their way.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut told = Vec::new();
        for bot in &bots {
            told.push(active(bot).await.expect("a message came"));
        }
        let before: Vec<_> = before.iter().map(counted).collect();
        tokio::time::sleep(WATCH).await;
        let after = wait_until(&bots, "stats", |_| true).await;
        for (i, s) in after.iter().enumerate() {
            let (messages, frames) = counted(s);
            if messages != before[i].0 || told[i].iter().all(|on| *on) {
                continue;
            }
            for (layer, on) in told[i].iter().enumerate() {
                let sent = frames[layer] - before[i].1[layer];
                if *on {
                    // 30 frames a second; most of them on a busy machine.
                    assert!(
                        sent >= 30,
                        "bot {i} layer {layer} is sent: {sent} ({told:?})"
                    );
                } else {
                    assert_eq!(sent, 0, "bot {i} layer {layer} is off ({told:?})");
                }
            }
            checked[i] = true;
        }
        if checked == [true, true] {
            break;
        }
    }
    assert_eq!(
        checked,
        [true, true],
        "each bot was watched with a layer off"
    );

    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
