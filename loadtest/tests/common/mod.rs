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

/// The `janus` binary on `PATH` for the tests against Janus, or `None` (they are skipped,
/// saying so) if it is not installed; with `AULA_REQUIRE_JANUS=1` a missing Janus fails the
/// test instead, for a machine that is meant to have it.
pub fn janus() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("janus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let required = std::env::var("AULA_REQUIRE_JANUS").is_ok_and(|v| v == "1");
        assert!(!required, "janus is not installed and AULA_REQUIRE_JANUS=1");
        eprintln!("SKIPPED: janus is not installed (apt-get install janus)");
    }
    found
}

/// The layers of the simulcast cameras in these tests, kbit/s: far enough apart that a
/// bitrate tells the layer.
pub const LAYERS_KBPS: [u32; 3] = [100, 300, 800];

/// A class on an in-process server: a teacher (host) and `students` students, every one
/// publishing audio and a simulcast camera of [`LAYERS_KBPS`], the students laying out what
/// they receive by `view`. Returns the server (to shut down) and the bots, teacher first.
pub async fn simulcast_class(
    students: usize,
    view: aula_loadtest::view::ViewPolicy,
) -> (aula_signaling::RunningServer, Vec<BotHandle>) {
    use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
    use aula_loadtest::media::VideoConfig;

    let server = aula_signaling::start(aula_signaling::Config::for_tests())
        .await
        .expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    let options = RoomOptions::no_lobby(RoomKind::Class);
    let room = http::create_room(&url, &options, PATIENCE)
        .await
        .expect("room created");
    let mut bots = Vec::new();
    for i in 0..=students {
        let (secret, name) = match i {
            0 => (room.host_secret(), "Frau Weber".to_owned()),
            i => (room.participant_secret(), format!("Student {i}")),
        };
        let secret = secret.expect("k= in the link");
        let mut config = aula_loadtest::BotConfig::new(&url.ws_url(), &room.id, secret, &name);
        config.video = Some(VideoConfig::simulcast(LAYERS_KBPS.map(|k| k * 1000)));
        config.view = if i == 0 {
            aula_loadtest::view::ViewPolicy::None
        } else {
            view
        };
        config.seed = i as u64;
        bots.push(aula_loadtest::spawn(config));
    }
    (server, bots)
}

/// Video bitrate of `from`'s camera as `bot` received it over `window`, kbit/s, and the layer
/// most of the window's frames came from (the tile must not change meanwhile). A
/// window in which the server paused that camera for want of bandwidth (`bandwidth`: the
/// estimate of a loopback link still moving on a busy machine) is measured again, twice at
/// most: the pause is not what these tests are about.
pub async fn video_kbps(bot: &BotHandle, from: &str, window: Duration) -> (f64, Option<usize>) {
    let mut measured = (0.0, None);
    for _ in 0..3 {
        let (kbps, layer, paused) = video_kbps_once(bot, from, window).await;
        measured = (kbps, layer);
        if !paused {
            break;
        }
    }
    measured
}

async fn video_kbps_once(
    bot: &BotHandle,
    from: &str,
    window: Duration,
) -> (f64, Option<usize>, bool) {
    let read = |s: BotStats| {
        let r = s.remote(from).expect("a remote").clone();
        let paused = (r.pauses, r.paused_since.is_some());
        (r.since_tile, r.tile_since, paused)
    };
    let (before, since, paused_before) = read(bot.stats().await.expect("running"));
    tokio::time::sleep(window).await;
    let (after, since_after, paused_after) = read(bot.stats().await.expect("running"));
    assert_eq!(
        since, since_after,
        "the tile changed during the measurement"
    );
    let during = after.since(&before);
    let layer = during.main_layer();
    let kbps = during.total_bytes() as f64 * 8.0 / window.as_secs_f64() / 1e3;
    let paused = paused_before != paused_after || paused_after.1;
    (kbps, layer, paused)
}
