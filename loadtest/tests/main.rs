//! Every behaviour under `tests/` (one file each) in one test binary: one link and one copy
//! of `common` instead of one per file (a binary per file was a third of a cold test build's
//! CPU time), and the files' tests share the harness's threads instead of running file after
//! file. Run one file's tests with `cargo test --test all <module>::` (its name, `_` for `-`).

mod common;

mod churn;
#[path = "dominant-speaker.rs"]
mod dominant_speaker;
#[path = "encodings-off.rs"]
mod encodings_off;
mod impair;
#[path = "janus-class.rs"]
mod janus_class;
#[path = "janus-simulcast.rs"]
mod janus_simulcast;
#[path = "lobby-wait.rs"]
mod lobby_wait;
#[path = "no-hairpin.rs"]
mod no_hairpin;
#[path = "resume-fallback.rs"]
mod resume_fallback;
#[path = "resume-keeps-media.rs"]
mod resume_keeps_media;
#[path = "simulcast-publish.rs"]
mod simulcast_publish;
mod smoke;
#[path = "subscribe-reset.rs"]
mod subscribe_reset;
#[path = "surge-queue.rs"]
mod surge_queue;
#[path = "view-hides-tile.rs"]
mod view_hides_tile;
#[path = "view-picks-layer.rs"]
mod view_picks_layer;
