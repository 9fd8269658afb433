//! The one small interface the driver talks to, whichever server is under test: Aula's
//! docs/protocol.md (`signal`) or Janus's VideoRoom plugin (`janus`).
//!
//! Both yield the same [`SignalEvent`]s and take the same actions (publish an offer with its
//! candidate, answer a subscribe offer, leave). An enum rather than a trait object: there are
//! two servers, and async methods on a trait would box every `recv`.

use std::time::{Duration, Instant};

use crate::bot::{BotConfig, BotError};
use crate::janus::JanusSocket;
use crate::protocol::{ClientMsg, Pc, PublishTrack, ServerMsg, SubscribeTrack};
use crate::signal::{Incoming, Signal};
use crate::target::Target;

/// What a server told the bot, in the bot's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignalEvent {
    /// Joined with this id; everyone else in the room as (id, name).
    Joined {
        id: String,
        participants: Vec<(String, String)>,
    },
    /// Someone joined, or changed (id, name).
    Participant { id: String, name: String },
    /// Someone left.
    Left { id: String },
    /// The answer to our publish offer.
    PublishAnswer { sdp: String },
    /// A (re)offer of the subscribe connection and whose media each m-line carries.
    SubscribeOffer {
        sdp: String,
        tracks: Vec<SubscribeTrack>,
    },
    /// Something the bot notes in its stats and goes on from.
    Problem(String),
    /// The server refused the join.
    Refused { code: String, message: String },
    /// The server closed the signaling connection.
    Closed(Option<(u16, String)>),
}

/// A joined signaling connection to either server.
pub(crate) enum Signaling {
    Aula(Signal),
    Janus(JanusSocket),
}

/// What [`Signaling::join`] brings back.
pub(crate) struct Joined {
    pub signaling: Signaling,
    /// When the WebSocket opened, from the bot's start.
    pub ws_open: Duration,
    /// When the server said joined.
    pub at: Duration,
    pub id: String,
    /// Aula's role; for Janus, the ticket's secret (`host` or `participant`).
    pub role: String,
    /// Everyone else: (id, name).
    pub participants: Vec<(String, String)>,
}

impl Signaling {
    /// Connects to the server `config.target` names and joins the room.
    pub async fn join(config: &BotConfig, start: Instant) -> Result<Joined, BotError> {
        match config.target {
            Target::Aula => join_aula(config, start).await,
            Target::Janus => {
                let (url, name) = (&config.ws_url, &config.name);
                let joined = JanusSocket::join(url, &config.room, name, start).await?;
                Ok(Joined {
                    signaling: Signaling::Janus(joined.socket),
                    ws_open: joined.ws_open,
                    at: start.elapsed(),
                    id: joined.id,
                    role: config.secret.clone(),
                    participants: joined.participants,
                })
            }
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
                socket.publish(&sdp, &candidate);
                Ok(())
            }
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

    /// Leaves and closes, waiting at most `wait`. Errors no longer matter here.
    pub async fn leave(&mut self, wait: Duration) {
        match self {
            Signaling::Aula(signal) => signal.leave(wait).await,
            Signaling::Janus(socket) => socket.leave(wait).await,
        }
    }
}

/// Connects, sends `join`, and waits for `joined`.
async fn join_aula(config: &BotConfig, start: Instant) -> Result<Joined, BotError> {
    let mut signal = Signal::connect(&config.ws_url).await?;
    let ws_open = start.elapsed();
    let join = ClientMsg::Join {
        v: crate::protocol::PROTOCOL_VERSION,
        room: &config.room,
        secret: &config.secret,
        name: &config.name,
        session: None,
    };
    signal.send(&join).await?;
    loop {
        match signal.recv().await? {
            Incoming::Msg(ServerMsg::Joined {
                you, participants, ..
            }) => {
                return Ok(Joined {
                    signaling: Signaling::Aula(signal),
                    ws_open,
                    at: start.elapsed(),
                    id: you.id,
                    role: you.role,
                    participants: participants.into_iter().map(|p| (p.id, p.name)).collect(),
                });
            }
            Incoming::Msg(ServerMsg::Error { code, message }) => {
                return Err(BotError::Refused { code, message });
            }
            Incoming::Closed(why) => return Err(BotError::Closed(why)),
            Incoming::Garbage(text) => tracing::debug!(%text, "garbage before joined"),
            // Nothing else is expected before `joined`; the document does not forbid it.
            Incoming::Msg(other) => tracing::debug!(?other, "message before joined"),
        }
    }
}

/// Aula's message as an event; `None` for what the bot ignores.
fn aula_event(incoming: Incoming) -> Option<SignalEvent> {
    Some(match incoming {
        Incoming::Msg(msg) => match msg {
            ServerMsg::ParticipantJoined { participant }
            | ServerMsg::ParticipantUpdated { participant } => SignalEvent::Participant {
                id: participant.id,
                name: participant.name,
            },
            ServerMsg::ParticipantLeft { id } => SignalEvent::Left { id },
            ServerMsg::PublishAnswer { sdp } => SignalEvent::PublishAnswer { sdp },
            ServerMsg::SubscribeOffer { sdp, tracks } => {
                SignalEvent::SubscribeOffer { sdp, tracks }
            }
            ServerMsg::Error { code, message } => {
                tracing::debug!(%code, %message, "server error");
                SignalEvent::Problem(format!("server error {code}: {message}"))
            }
            ServerMsg::Joined { .. } => SignalEvent::Problem("second joined".into()),
            _ => return None,
        },
        Incoming::Garbage(text) => SignalEvent::Problem(format!("garbage: {text}")),
        Incoming::Closed(why) => SignalEvent::Closed(why),
    })
}
