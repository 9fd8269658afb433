//! The one small interface the driver talks to, whichever server is under test: Aula's
//! docs/protocol.md (`signal`) or Janus's VideoRoom plugin (`janus`).
//!
//! Both yield the same [`SignalEvent`]s and take the same actions (join, publish an offer with
//! its candidate, answer a subscribe offer, leave); what only Aula has (the lobby, media state,
//! speakers, arbitrary messages) is a no-op or an error for Janus. An enum rather than a trait
//! object: there are two servers, and async methods on a trait would box every `recv`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bot::{BotConfig, BotError};
use crate::driver::Layout;
use crate::janus::JanusSocket;
use crate::media::LAYER_SIZES;
use crate::protocol::{ClientMsg, Participant, Pc, PublishTrack, ServerMsg, SubscribeTrack};
use crate::protocol::{Source, ViewTile};
use crate::signal::{Incoming, Signal};
use crate::target::Target;
use crate::view::layer_for;

/// What a server told the bot, in the bot's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignalEvent {
    /// Admitted: this participant and everyone else in the room; or, with `resumed`, back on
    /// a new socket as the same participant (Aula).
    Joined {
        you: Participant,
        participants: Vec<Participant>,
        session: Option<String>,
        /// The token to resume with (Aula).
        resume: Option<String>,
        resumed: bool,
    },
    /// Waiting in the lobby (Aula), with the session to rejoin with.
    Lobby { session: Option<String> },
    /// Waiting in the server's join queue (Aula): where the join stands.
    Queued {
        position: usize,
        waiting: usize,
        wait_secs: Option<u64>,
    },
    /// The join queue is full (Aula, `server_busy` with `retry_after_secs`): the server closes
    /// the socket next, and the page joins again after about this long.
    Busy { retry_after: Duration },
    /// Someone joined, or changed (this participant included).
    Participant(Participant),
    /// Someone left.
    Left { id: String },
    /// The answer to our publish offer.
    PublishAnswer { sdp: String },
    /// A (re)offer of the subscribe connection and whose media each m-line carries; with
    /// `reset`, of a new subscribe connection (Aula).
    SubscribeOffer {
        sdp: String,
        tracks: Vec<SubscribeTrack>,
        reset: bool,
    },
    /// Who is talking (Aula).
    Speakers {
        speaking: Vec<String>,
        dominant: Option<String>,
    },
    /// The room is over (Aula); the server closes the socket next.
    RoomEnded { reason: String },
    /// What the bandwidth allocator holds back (Aula): the participants whose video the page
    /// shows but gets none of, and whether the bot's own link is the limit.
    Bandwidth { paused: Vec<String>, limited: bool },
    /// Which encodings of the camera anybody takes (Aula), by rid (empty: the one encoding).
    Encodings { active: Vec<(String, bool)> },
    /// The cap on the camera's lowest encoding (Aula; `None`: lifted).
    CameraBitrate { max_bitrate: Option<u64> },
    /// Something the bot notes in its stats and goes on from.
    Problem(String),
    /// An error from the server: the answer to the join before `joined` or `lobby`, else a
    /// problem the bot notes (and the reason, if the server closes the socket next).
    Refused { code: String, message: String },
    /// The server closed the signaling connection.
    Closed(Option<(u16, String)>),
}

/// A signaling connection to either server.
pub(crate) enum Signaling {
    Aula(Signal),
    Janus(JanusSocket),
}

impl Signaling {
    /// Connects to the server `config.target` names and asks to join the room; the answer
    /// comes from [`Signaling::recv`]. Returns when the WebSocket opened, from `start`.
    pub async fn connect(
        config: &BotConfig,
        start: Instant,
    ) -> Result<(Signaling, Duration), BotError> {
        let (url, name) = (&config.ws_url, &config.name);
        match config.target {
            Target::Aula => {
                let signal = Signal::connect(url, config.forwarded_for).await?;
                let ws_open = start.elapsed();
                let mut signaling = Signaling::Aula(signal);
                signaling.join(config).await?;
                Ok((signaling, ws_open))
            }
            Target::Janus => {
                let host = config.secret == crate::protocol::HOST;
                let (socket, ws_open) =
                    JanusSocket::connect(url, &config.room, name, host, start).await?;
                Ok((Signaling::Janus(socket), ws_open))
            }
        }
    }

    /// Connects to Aula and asks to resume with `token` (not `fresh`: the bot keeps its media
    /// connections); the answer comes from [`Signaling::recv`]. Janus has no resume.
    pub async fn resume(config: &BotConfig, token: &str) -> Result<Signaling, BotError> {
        if config.target != Target::Aula {
            return Err(BotError::Protocol("only aula resumes".into()));
        }
        let mut signal = Signal::connect(&config.ws_url, config.forwarded_for).await?;
        let resume = ClientMsg::Resume {
            v: crate::protocol::PROTOCOL_VERSION,
            room: &config.room,
            token,
            fresh: false,
        };
        signal.send(&resume).await?;
        Ok(Signaling::Aula(signal))
    }

    /// Sends `join` (Aula): at connect, or after `resume_failed` on the same socket. Janus
    /// joins in its own way, at connect.
    pub async fn join(&mut self, config: &BotConfig) -> Result<(), BotError> {
        let join = ClientMsg::Join {
            v: crate::protocol::PROTOCOL_VERSION,
            room: &config.room,
            secret: &config.secret,
            name: &config.name,
            session: config.session.as_deref(),
        };
        match self {
            Signaling::Aula(signal) => signal.send(&join).await,
            Signaling::Janus(_) => Err(BotError::Protocol("janus joins at connect".into())),
        }
    }

    /// The next event. Cancel-safe.
    pub async fn recv(&mut self) -> Result<SignalEvent, BotError> {
        match self {
            Signaling::Aula(signal) => loop {
                if let Some(event) = aula_event(signal.recv().await?) {
                    return Ok(event);
                }
            },
            Signaling::Janus(socket) => socket.recv().await,
        }
    }

    /// Sends the publish offer, then the bot's one candidate.
    pub async fn publish(
        &mut self,
        sdp: String,
        tracks: Vec<PublishTrack>,
        candidate: String,
    ) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => {
                signal.send(&ClientMsg::Publish { sdp, tracks }).await?;
                let pc = Pc::Publish;
                signal.send(&ClientMsg::Candidate { pc, candidate }).await
            }
            Signaling::Janus(socket) => {
                let simulcast = tracks.iter().any(|t| !t.layers.is_empty());
                socket.publish(&sdp, simulcast, &candidate);
                Ok(())
            }
        }
    }

    /// Tells the server which cameras the page shows and how large: Aula's `view` (the
    /// shown ones only); for Janus, each camera's substream by the layer sizes the page
    /// publishes ([`LAYER_SIZES`]: Janus is not told them), or `send: false` for a hidden one.
    pub async fn view(&mut self, layout: &Layout) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => {
                let tiles: Vec<ViewTile> = layout
                    .iter()
                    .filter_map(|(id, tile)| {
                        let t = (*tile)?;
                        Some(ViewTile {
                            participant: id.clone(),
                            source: Source::Camera,
                            width: t.width,
                            height: t.height,
                        })
                    })
                    .collect();
                signal.send(&ClientMsg::View { tiles: &tiles }).await
            }
            Signaling::Janus(socket) => {
                let heights = LAYER_SIZES.map(|(_, h)| u32::from(h));
                let feeds: Vec<(u64, Option<u8>)> = layout
                    .iter()
                    .filter_map(|(id, tile)| {
                        let layer = tile.map(|t| layer_for(&heights, t.height) as u8);
                        Some((id.parse().ok()?, layer))
                    })
                    .collect();
                socket.view(&feeds);
                Ok(())
            }
        }
    }

    /// Tells Aula which sources are on (never the screen); Janus has no such message.
    pub async fn media_state(&mut self, audio: bool, video: bool) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => {
                let screen = false;
                let msg = ClientMsg::MediaState {
                    audio,
                    video,
                    screen,
                };
                signal.send(&msg).await
            }
            Signaling::Janus(_) => Ok(()),
        }
    }

    /// Sends any message a test wants sent (Aula only).
    pub async fn send_json(&mut self, msg: &Value) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => signal.send(msg).await,
            Signaling::Janus(_) => Err(BotError::Protocol("janus takes no aula messages".into())),
        }
    }

    /// The latest message of type `ty` (Aula only; not the SDP messages).
    pub fn last_message(&self, ty: &str) -> Option<Value> {
        match self {
            Signaling::Aula(signal) => signal.last(ty).cloned(),
            Signaling::Janus(_) => None,
        }
    }

    /// Sends the answer to the latest subscribe offer, and the bot's candidate with the first.
    pub async fn subscribe_answer(
        &mut self,
        sdp: String,
        candidate: Option<String>,
    ) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => {
                signal.send(&ClientMsg::SubscribeAnswer { sdp }).await?;
                if let Some(candidate) = candidate {
                    let pc = Pc::Subscribe;
                    signal.send(&ClientMsg::Candidate { pc, candidate }).await?;
                }
                Ok(())
            }
            Signaling::Janus(socket) => {
                socket.subscribe_answer(&sdp, candidate.as_deref());
                Ok(())
            }
        }
    }

    /// Tells Aula the latest subscribe offer could not be applied; Janus has no such message.
    pub async fn subscribe_failed(&mut self, reason: String) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => signal.send(&ClientMsg::SubscribeFailed { reason }).await,
            Signaling::Janus(_) => Ok(()),
        }
    }

    /// Keeps a socket waiting in the join queue heard (Aula); Janus has no queue.
    pub async fn ping(&mut self) -> Result<(), BotError> {
        match self {
            Signaling::Aula(signal) => signal.send(&ClientMsg::Ping).await,
            Signaling::Janus(_) => Ok(()),
        }
    }

    /// Leaves and closes, waiting at most `wait`. Errors no longer matter here.
    pub async fn leave(&mut self, wait: Duration) {
        match self {
            Signaling::Aula(signal) => signal.leave(wait).await,
            Signaling::Janus(socket) => socket.leave(wait).await,
        }
    }
}

/// Aula's message as an event; `None` for what the bot ignores.
fn aula_event(incoming: Incoming) -> Option<SignalEvent> {
    Some(match incoming {
        Incoming::Msg(msg) => match *msg {
            ServerMsg::Joined {
                you,
                participants,
                session,
                resume,
                resumed,
                ..
            } => SignalEvent::Joined {
                you,
                participants,
                session,
                resume,
                resumed,
            },
            ServerMsg::Lobby { session, .. } => SignalEvent::Lobby { session },
            ServerMsg::ParticipantJoined { participant }
            | ServerMsg::ParticipantUpdated { participant } => {
                SignalEvent::Participant(participant)
            }
            ServerMsg::ParticipantLeft { id } => SignalEvent::Left { id },
            ServerMsg::PublishAnswer { sdp } => SignalEvent::PublishAnswer { sdp },
            ServerMsg::SubscribeOffer { sdp, tracks, reset } => {
                SignalEvent::SubscribeOffer { sdp, tracks, reset }
            }
            ServerMsg::Speakers { speaking, dominant } => {
                SignalEvent::Speakers { speaking, dominant }
            }
            ServerMsg::RoomEnded { reason } => SignalEvent::RoomEnded { reason },
            ServerMsg::Bandwidth { paused, limited } => SignalEvent::Bandwidth {
                // A bot shows cameras only; a paused screen share would be someone else's.
                paused: paused
                    .into_iter()
                    .filter(|p| p.source == Source::Camera)
                    .map(|p| p.participant)
                    .collect(),
                limited,
            },
            // Bots publish a camera and no screen.
            ServerMsg::Encodings {
                source: Source::Camera,
                encodings,
            } => SignalEvent::Encodings {
                active: encodings.into_iter().map(|e| (e.rid, e.active)).collect(),
            },
            ServerMsg::Encodings { .. } => return None,
            ServerMsg::CameraBitrate { max_bitrate } => SignalEvent::CameraBitrate { max_bitrate },
            ServerMsg::Queued {
                position,
                waiting,
                wait_secs,
            } => SignalEvent::Queued {
                position,
                waiting,
                wait_secs,
            },
            ServerMsg::Error {
                code,
                retry_after_secs: Some(secs),
                ..
            } if code == "server_busy" => SignalEvent::Busy {
                retry_after: Duration::from_secs(secs),
            },
            ServerMsg::Error { code, message, .. } => {
                tracing::debug!(%code, %message, "server error");
                SignalEvent::Refused { code, message }
            }
            // Settings, moderation, host information, the lobby list and chat change nothing
            // in how a bot sends or receives media.
            ServerMsg::SettingsUpdated { .. }
            | ServerMsg::Moderated { .. }
            | ServerMsg::HostInfo { .. }
            | ServerMsg::LobbyUpdated { .. }
            | ServerMsg::LinkRenewed { .. }
            | ServerMsg::Chat { .. }
            | ServerMsg::Unknown => return None,
        },
        Incoming::Garbage(text) => SignalEvent::Problem(format!("garbage: {text}")),
        Incoming::Closed(why) => SignalEvent::Closed(why),
    })
}
