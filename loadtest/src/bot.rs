//! A bot: one participant speaking docs/protocol.md over a WebSocket and real WebRTC over UDP.
//!
//! [`spawn`] starts a bot as one tokio task and returns a [`BotHandle`] to read its stats and
//! make it leave. What the task does is in `driver`.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use str0m::RtcError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite;
use tracing::Instrument;

use crate::driver;
use crate::media::{AudioConfig, VideoConfig};
use crate::stats::BotStats;
use crate::target::Target;

/// What a bot does.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The signaling endpoint, `ws://host:port/ws`.
    pub ws_url: String,
    /// Room id.
    pub room: String,
    /// The host or participant secret.
    pub secret: String,
    /// Display name.
    pub name: String,
    /// Local address for both UDP sockets; 127.0.0.1 unless the server is elsewhere.
    pub local_ip: IpAddr,
    /// Synthetic microphone, or `None` to publish no audio.
    pub audio: Option<AudioConfig>,
    /// Synthetic camera, or `None` to publish no video. Without both, the bot only subscribes.
    pub video: Option<VideoConfig>,
    /// How long the WebSocket handshake plus `join` -> `joined` may take, time in the lobby
    /// included.
    pub join_timeout: Duration,
    /// The session of an earlier `joined` or `lobby` in this room, to rejoin with.
    pub session: Option<String>,
    /// Seeds frame sizes, so a run can be repeated.
    pub seed: u64,
    /// The server under test; for Janus, `ws_url` is its WebSocket transport and `secret`
    /// only names the role.
    pub target: Target,
}

impl BotConfig {
    /// A bot publishing default audio and video from 127.0.0.1.
    pub fn new(ws_url: &str, room: &str, secret: &str, name: &str) -> BotConfig {
        BotConfig {
            ws_url: ws_url.to_owned(),
            room: room.to_owned(),
            secret: secret.to_owned(),
            name: name.to_owned(),
            local_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            audio: Some(AudioConfig::default()),
            video: Some(VideoConfig::default()),
            join_timeout: Duration::from_secs(10),
            session: None,
            seed: 0,
            target: Target::Aula,
        }
    }

    pub(crate) fn publishes(&self) -> bool {
        self.audio.is_some() || self.video.is_some()
    }
}

/// Why a bot stopped before it was told to leave. `Display` says what failed, `source()` why;
/// [`BotError::chain`] gives both in one line.
///
/// A failed WebRTC connection (ICE, DTLS, SRTP) is not among these: the bot stays in the room,
/// as a browser would, and notes it in [`BotStats::errors`]. An SDP it cannot accept is.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The WebSocket handshake failed.
    #[error("websocket connect to {url} failed")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        source: Box<tungstenite::Error>,
    },
    /// The WebSocket broke.
    #[error("websocket failed")]
    WebSocket(#[source] Box<tungstenite::Error>),
    /// The server closed the WebSocket.
    #[error("server closed the websocket{}", .0.as_ref().map(|(c, r)| format!(" ({c} {r})")).unwrap_or_default())]
    Closed(Option<(u16, String)>),
    /// The server answered `join` with an `error`, or sent one and closed the socket (denied,
    /// removed).
    #[error("refused: {code}: {message}")]
    Refused {
        /// Protocol error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// No `joined` in time.
    #[error("no joined within {0:?}")]
    JoinTimeout(Duration),
    /// The server broke the protocol in a way the bot cannot go on from.
    #[error("protocol: {0}")]
    Protocol(String),
    /// str0m refused an SDP from the server, or the bot's own candidate.
    #[error("webrtc failed")]
    Rtc(#[source] Box<RtcError>),
    /// A socket failed.
    #[error("udp socket failed")]
    Io(#[from] io::Error),
    /// The bot's task panicked (a bug).
    #[error("bot task panicked: {0}")]
    Panicked(String),
}

impl BotError {
    /// The error and its sources, joined by `: `.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            text.push_str(&format!(": {e}"));
            source = e.source();
        }
        text
    }

    pub(crate) fn websocket(e: tungstenite::Error) -> BotError {
        BotError::WebSocket(Box::new(e))
    }
}

impl From<RtcError> for BotError {
    fn from(e: RtcError) -> Self {
        BotError::Rtc(Box::new(e))
    }
}

/// How a bot ended: what it measured and, if it ended on its own, why.
#[derive(Debug)]
pub struct BotReport {
    /// Everything measured up to the end.
    pub stats: BotStats,
    /// `None` if the bot left because it was told to.
    pub error: Option<BotError>,
}

/// What a [`BotHandle`] asks of its bot.
pub(crate) enum Command {
    /// Send a copy of the stats.
    Snapshot(oneshot::Sender<BotStats>),
    /// Leave the room and end.
    Leave,
}

/// The handle of a running bot. Dropping it makes the bot leave.
pub struct BotHandle {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<BotReport>,
}

/// Starts a bot on the current tokio runtime.
pub fn spawn(config: BotConfig) -> BotHandle {
    // Commands are rare (snapshots, one leave); a short queue is plenty.
    let (commands, rx) = mpsc::channel(4);
    let span = tracing::debug_span!("bot", name = %config.name);
    let task = tokio::spawn(driver::run(config, rx).instrument(span));
    BotHandle { commands, task }
}

impl BotHandle {
    /// A copy of the bot's stats now, or `None` if the bot has ended.
    pub async fn stats(&self) -> Option<BotStats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Snapshot(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Whether the bot's task has ended (it failed, or left).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Sends `leave`, closes the connections, and returns the final report.
    pub async fn leave(self) -> BotReport {
        // If the bot already ended, the send fails and the report is ready anyway.
        let _ = self.commands.send(Command::Leave).await;
        match self.task.await {
            Ok(report) => report,
            Err(e) => BotReport {
                stats: BotStats::default(),
                error: Some(BotError::Panicked(e.to_string())),
            },
        }
    }
}
