//! Which server the bots talk to: Aula (docs/protocol.md) or Janus 1.1.2 (its VideoRoom plugin
//! over the WebSocket transport), for the side-by-side comparison of issue 3.
//!
//! Everything above this module (scenarios, reports) is the same for both: a scenario creates
//! rooms with [`create_room`] and gives each bot a [`RoomTicket`]'s id and one of its secrets.
//! Janus has no secrets, roles, room kinds or lobby; its tickets carry `host` and `participant`
//! instead, which a Janus bot reports as its role.

use std::time::Duration;

use crate::http::{self, RoomOptions, ServerUrl};
use crate::protocol::{HOST, PARTICIPANT};

/// The server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Target {
    /// Aula, through `POST /api/rooms` and `GET /ws`.
    #[default]
    Aula,
    /// Janus 1.1.2: the VideoRoom plugin over the WebSocket transport (`janus-protocol`).
    Janus,
}

impl Target {
    /// The WebSocket URL bots connect to. Aula serves `/ws`; Janus's transport ignores the
    /// path, so the same `ws://host:port/ws` works for both.
    pub fn ws_url(self, server: &ServerUrl) -> String {
        server.ws_url()
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::Aula => "aula",
            Target::Janus => "janus",
        }
    }
}

/// What joining a room needs: its id and the secret of each role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTicket {
    /// Aula's room id, or the Janus VideoRoom's numeric id as text.
    pub id: String,
    /// Aula's host secret; `host` for Janus.
    pub host_secret: String,
    /// Aula's participant secret; `participant` for Janus.
    pub participant_secret: String,
}

/// Creates a room on `target` at `server`, within `timeout`. Janus takes only the title of
/// `options`.
///
/// For Janus, `server` is the WebSocket transport's `host:port`; the room is made with the
/// VideoRoom `create` request (VP8 and Opus only, room for `janus::MAX_PUBLISHERS`
/// publishers, `notify_joining` so bots that only watch are seen too) on a session that is
/// destroyed afterwards. The room stays until Janus stops.
pub async fn create_room(
    target: Target,
    server: &ServerUrl,
    options: &RoomOptions,
    timeout: Duration,
) -> Result<RoomTicket, anyhow::Error> {
    match target {
        Target::Aula => {
            let room = http::create_room(server, options, timeout).await?;
            let secret = |s: Option<&str>, which: &str| {
                s.map(str::to_owned)
                    .ok_or_else(|| anyhow::anyhow!("{which} link has no k= secret"))
            };
            Ok(RoomTicket {
                host_secret: secret(room.host_secret(), "host")?,
                participant_secret: secret(room.participant_secret(), "participant")?,
                id: room.id,
            })
        }
        Target::Janus => {
            let url = target.ws_url(server);
            let title = options.title.as_deref();
            let room = crate::janus::create_room(&url, title, timeout).await?;
            Ok(RoomTicket {
                id: room.to_string(),
                host_secret: HOST.into(),
                participant_secret: PARTICIPANT.into(),
            })
        }
    }
}
