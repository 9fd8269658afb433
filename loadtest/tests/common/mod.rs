//! Waiting helpers shared by the loadtest's own tests.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use aula_loadtest::{BotHandle, BotStats};

/// ICE, DTLS and the first frames (or a few speaker ticks) through a debug build on a busy
/// 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls the bots' stats until `done` holds for every one and returns them, or panics with
/// them after [`PATIENCE`].
pub async fn wait_until(
    bots: &[BotHandle],
    what: &str,
    done: impl Fn(&BotStats) -> bool,
) -> Vec<BotStats> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut stats = Vec::new();
        for bot in bots {
            stats.push(bot.stats().await.expect("bot still running"));
        }
        if stats.iter().all(&done) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {PATIENCE:?}: {stats:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `probe` until it finds something, or panics after [`PATIENCE`].
pub async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "no {what} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
