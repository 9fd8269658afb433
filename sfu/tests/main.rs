//! Every behaviour under `tests/` (one file each) in one test binary: one link and one copy
//! of `common` instead of one per file (a binary per file was a third of a cold test build's
//! CPU time), and the files' tests share the harness's threads instead of running file after
//! file. Run one file's tests with `cargo test --test all <module>::` (its name, `_` for `-`).
//! The fuzzer stays a binary of its own: `AULA_FUZZ_SECS` runs it for a given time.

mod common;

#[path = "active-speaker.rs"]
mod active_speaker;
mod adaptation;
#[path = "bad-input.rs"]
mod bad_input;
#[path = "churn-model.rs"]
mod churn_model;
#[path = "codec-policy.rs"]
mod codec_policy;
#[path = "connection-health.rs"]
mod connection_health;
mod gate;
#[path = "h264-forwarding.rs"]
mod h264_forwarding;
#[path = "keyframe-on-join.rs"]
mod keyframe_on_join;
#[path = "media-flow.rs"]
mod media_flow;
#[path = "nack-rtx.rs"]
mod nack_rtx;
#[path = "publisher-restart.rs"]
mod publisher_restart;
mod resume;
#[path = "room-lifecycle.rs"]
mod room_lifecycle;
mod simulcast;
