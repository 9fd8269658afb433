//! Bots against Janus 1.1.2: its VideoRoom plugin over its WebSocket transport, so the same
//! bots measure Janus beside Aula (issue 3). Not a general Janus client: one room, one
//! publisher handle, one multistream subscriber handle, VP8 and Opus.
//!
//! # Layout
//! - `msg`: the JSON frames, built and parsed without I/O.
//! - `client`: one bot's session as a sans-IO state machine that yields the same
//!   [`SignalEvent`](crate::signaling::SignalEvent)s as Aula's protocol.
//! - `socket`: the WebSocket around it (subprotocol `janus-protocol`, keepalives), and
//!   [`create_room`].

mod client;
mod msg;
mod socket;

pub(crate) use socket::{JanusSocket, create_room};

/// The cap on publishers of a room the loadtest creates: above any class, lecture or surge
/// room the scenarios make, so Janus never refuses a publisher for it.
pub const MAX_PUBLISHERS: u32 = 1000;

/// Janus has no roles: a host bot joins with this after its display name, and the others read
/// it back as the `host` role, which is what a page needs to put the teacher on the stage.
const HOST_MARK: &str = " (host)";

/// How often a bot sends `keepalive`: well inside the 60 s `session_timeout` of
/// `loadtest/peers/janus/janus.jcfg`.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(20);
