//! A bot: one participant speaking docs/protocol.md over a WebSocket and real WebRTC over UDP.
//!
//! [`spawn`] starts a bot as one tokio task and returns a [`BotHandle`] to read its stats, make
//! it act (any client message, a raised hand, a chat line, a change of audio level), make it
//! leave and come back ([`Churn`]) and make it leave for good. What the task does is in
//! `driver`.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;
use str0m::RtcError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite;
use tracing::Instrument;

use crate::driver;
use crate::media::{AudioConfig, VideoConfig};
use crate::protocol::ClientMsg;
use crate::relay::Relay;
use crate::stats::BotStats;
use crate::target::Target;
use crate::view::ViewPolicy;

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
    /// One encoding by default; [`VideoConfig::simulcast`] for three layers as the page sends.
    pub video: Option<VideoConfig>,
    /// How the bot's page lays out the cameras it receives, told to the server with `view`
    /// (for Janus: each camera's `substream`, or `send: false`). None by default: the server
    /// sends every video at its middle layer, as before a page's first `view`.
    pub view: ViewPolicy,
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
    /// A relay between this bot and the server's media address, shaping its downlink: the
    /// server's candidates are replaced by the relay's. `None`: straight to the server.
    pub relay: Option<Relay>,
    /// The address the bot's WebSocket says it comes from (`X-Forwarded-For`, which the
    /// server takes from a loopback peer as from a local reverse proxy), so that a thousand
    /// bots on one machine count as the thousand homes they stand for in the join queue's
    /// per-address bound. `None`: the socket's own address.
    pub forwarded_for: Option<IpAddr>,
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
            view: ViewPolicy::None,
            join_timeout: Duration::from_secs(10),
            session: None,
            seed: 0,
            target: Target::Aula,
            relay: None,
            forwarded_for: None,
        }
    }

    pub(crate) fn publishes(&self) -> bool {
        self.audio.is_some() || self.video.is_some()
    }
}

/// How a bot leaves and comes back ([`BotHandle::churn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Churn {
    /// A network drop: the WebSocket closes without `leave` while both media connections go
    /// on; after the pause the bot connects again and sends `resume` (not `fresh`). If the
    /// server answers `resume_failed`, it sends `join` with its session and starts new media
    /// connections as the new participant it then is.
    Resume,
    /// Leaving and coming back: `leave`, both media connections closed, and after the pause a
    /// `join` with its session, as a new participant with new connections.
    Rejoin,
}

/// Why a bot stopped before it was told to leave. `Display` says what failed, `source()` why;
/// [`BotError::chain`] gives both in one line.
///
/// A failed WebRTC connection (ICE, DTLS, SRTP) is not among these: the bot stays in the room,
/// as a browser would, and notes it in [`BotStats::errors`]. Nor is a subscribe offer it cannot
/// apply: it answers `subscribe_failed`, as the protocol asks, and counts it in
/// [`BotStats::renegotiations_failed`]. A publish answer it cannot parse is.
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
    /// Send this message on the signaling socket; answer whether it went out.
    Send(Value, oneshot::Sender<bool>),
    /// Answer the latest message of this type.
    LastMessage(String, oneshot::Sender<Option<Value>>),
    /// Put this audio level (dBov) into the frames from now on.
    AudioLevel(i8),
    /// Lay the cameras out by this policy from now on.
    View(ViewPolicy),
    /// Leave and come back after the pause; answer whether the bot set out to (`None`: nobody
    /// waits for the answer).
    Churn {
        how: Churn,
        pause: Duration,
        reply: Option<oneshot::Sender<bool>>,
    },
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
    // Commands are rare (snapshots, a test's actions, one leave); a short queue is plenty.
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

    /// Sends any client message on the bot's signaling socket, for example a host action:
    /// `bot.send_json(json!({"type": "mute", "participant": "p3"}))`. Works in the lobby too.
    /// What the server answers shows in the stats (an `error` in [`BotStats::errors`]) and in
    /// [`BotHandle::last_message`]. False if the bot has ended, has no socket yet, or talks
    /// to Janus.
    pub async fn send_json(&self, msg: Value) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Send(msg, tx)).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Raises the bot's hand (`raise_hand`); see [`BotHandle::send_json`].
    pub async fn raise_hand(&self) -> bool {
        self.send_msg(&ClientMsg::RaiseHand).await
    }

    /// Lowers the bot's own hand (`lower_hand`); see [`BotHandle::send_json`].
    pub async fn lower_hand(&self) -> bool {
        self.send_msg(&ClientMsg::LowerHand { participant: None })
            .await
    }

    /// Writes `text` in the chat (`chat`); see [`BotHandle::send_json`].
    pub async fn chat(&self, text: &str) -> bool {
        self.send_msg(&ClientMsg::Chat { text }).await
    }

    async fn send_msg(&self, msg: &ClientMsg<'_>) -> bool {
        let msg = serde_json::to_value(msg).expect("client messages always serialize");
        self.send_json(msg).await
    }

    /// The latest message of type `ty` (`"chat"`, `"moderated"`, `"error"`…) the server sent
    /// this bot, as JSON; `None` if there was none, the bot has ended, or it talks to Janus.
    /// The SDP messages (`subscribe_offer`, `publish_answer`) are not kept.
    pub async fn last_message(&self, ty: &str) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        let cmd = Command::LastMessage(ty.to_owned(), tx);
        self.commands.send(cmd).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Changes the audio level the bot's frames carry from now on, in dBov: for example
    /// [`SILENT_DBOV`](crate::media::SILENT_DBOV) to stop talking. False if the bot has
    /// ended; no effect on a bot without audio.
    pub async fn set_audio_level(&self, level_dbov: i8) -> bool {
        let cmd = Command::AudioLevel(level_dbov);
        self.commands.send(cmd).await.is_ok()
    }

    /// Lays out the cameras by `policy` from now on: the bot sends a `view` for it (within the
    /// page's 5 a second). False if the bot has ended.
    pub async fn set_view(&self, policy: ViewPolicy) -> bool {
        self.commands.send(Command::View(policy)).await.is_ok()
    }

    /// Makes the bot leave and come back after `pause` ([`Churn`]). True once it has set out;
    /// false if it cannot now (not joined yet, still away from an earlier churn, not on
    /// Aula) or has ended. How it went shows in [`BotStats::churns`].
    pub async fn churn(&self, how: Churn, pause: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let reply = Some(tx);
        if self
            .commands
            .send(Command::Churn { how, pause, reply })
            .await
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// [`BotHandle::churn`] without waiting: false only if the command could not be queued.
    /// A bot that cannot set out counts it in [`BotStats::churns_refused`].
    pub fn start_churn(&self, how: Churn, pause: Duration) -> bool {
        let cmd = Command::Churn {
            how,
            pause,
            reply: None,
        };
        self.commands.try_send(cmd).is_ok()
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
