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

/// str0m's acknowledged-rate estimator as Aula vendors and changes it, for the same reason.
#[path = "../../vendor/str0m/src/bwe/acked_bitrate_estimator.rs"]
mod acked_bitrate_estimator;
/// str0m's estimate smoother as Aula vendors and changes it (vendor/str0m/AULA.md), for its
/// inline tests: the vendored crate is not a member of the workspace, so they run here.
#[path = "../../vendor/str0m/src/bwe/smoother.rs"]
mod smoother;
/// What the two reach for in their own crate.
mod rtp_ {
    pub use str0m::bwe::Bitrate;
    pub use str0m_proto::DataSize;
}
use rtp_::Bitrate;
