//! A room's membership, owned by one task: who is in it, with which name and role, and when it
//! ends. Everything changes through [`RoomMsg`]s, so there is no lock around a room. Media is
//! the SFU's business; this task tells the SFU who joined and left.

use std::collections::BTreeMap;
use std::sync::Arc;

use aula_sfu::{Command, ParticipantId, RoomId, SfuEvent, SfuHandle};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::protocol::{ErrorCode, ParticipantInfo, Role, RoomInfo, ServerMsg, TrackInfo, VERSION};
use crate::registry::{Registry, Secret};

/// What a socket's writer task sends: a message, or a close frame and the end.
#[derive(Debug)]
pub enum Outgoing {
    Msg(ServerMsg),
    Close(u16, &'static str),
}

pub type Outbox = mpsc::UnboundedSender<Outgoing>;

#[derive(Debug)]
pub enum RoomMsg {
    Join {
        name: String,
        role: Role,
        out: Outbox,
        reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
    },
    Leave {
        participant: ParticipantId,
    },
    MediaState {
        participant: ParticipantId,
        audio: bool,
        video: bool,
    },
}

struct Member {
    info: ParticipantInfo,
    out: Outbox,
}

/// Limits and timings a room task needs.
#[derive(Debug, Clone)]
pub struct RoomLimits {
    pub max_participants: usize,
    pub empty_grace: std::time::Duration,
    pub unused_ttl: std::time::Duration,
}

pub struct RoomTask {
    pub id: RoomId,
    pub title: Arc<str>,
    pub student_secret: Secret,
    pub limits: RoomLimits,
    pub sfu: SfuHandle,
    pub registry: Arc<Registry>,
    pub inbox: mpsc::Receiver<RoomMsg>,
    pub stop: watch::Receiver<bool>,
}

struct State {
    members: BTreeMap<ParticipantId, Member>,
    next_id: u32,
    /// When the room became empty (or was created, before anyone joined).
    empty_since: Instant,
    ever_joined: bool,
}

impl RoomTask {
    pub async fn run(mut self) {
        let span = tracing::info_span!("room", id = %self.id);
        async move {
            let mut state = State {
                members: BTreeMap::new(),
                next_id: 0,
                empty_since: Instant::now(),
                ever_joined: false,
            };
            loop {
                let deadline = self.deadline(&state);
                tokio::select! {
                    msg = self.inbox.recv() => match msg {
                        Some(msg) => self.handle(&mut state, msg),
                        None => break,
                    },
                    _ = sleep_until(deadline) => {
                        tracing::info!("room closed: empty");
                        break;
                    }
                    _ = self.stop.changed() => break,
                }
            }
            // Unregister first, so no new join can reach a room that is going away.
            self.registry.remove(&self.id);
            let _ = self.sfu.send(&self.id, Command::Close);
            for member in state.members.values() {
                let _ = member.out.send(Outgoing::Close(1001, "room closed"));
            }
        }
        .instrument(span)
        .await
    }

    fn deadline(&self, state: &State) -> Option<Instant> {
        if !state.members.is_empty() {
            return None;
        }
        let wait = if state.ever_joined {
            self.limits.empty_grace
        } else {
            self.limits.unused_ttl
        };
        Some(state.empty_since + wait)
    }

    fn handle(&self, state: &mut State, msg: RoomMsg) {
        match msg {
            RoomMsg::Join {
                name,
                role,
                out,
                reply,
            } => {
                let result = self.join(state, name, role, out);
                let _ = reply.send(result);
            }
            RoomMsg::Leave { participant } => {
                if state.members.remove(&participant).is_some() {
                    tracing::info!(%participant, "left");
                    let _ = self.sfu.send(&self.id, Command::Leave { participant });
                    let left = ServerMsg::ParticipantLeft {
                        id: participant.to_string(),
                    };
                    broadcast(state, participant, &left);
                    if state.members.is_empty() {
                        state.empty_since = Instant::now();
                    }
                }
            }
            RoomMsg::MediaState {
                participant,
                audio,
                video,
            } => {
                let Some(m) = state.members.get_mut(&participant) else {
                    return;
                };
                m.info.audio = audio;
                m.info.video = video;
                let updated = ServerMsg::ParticipantUpdated {
                    participant: m.info.clone(),
                };
                broadcast(state, participant, &updated);
            }
        }
    }

    fn join(
        &self,
        state: &mut State,
        name: String,
        role: Role,
        out: Outbox,
    ) -> Result<ParticipantId, ErrorCode> {
        if state.members.len() >= self.limits.max_participants {
            return Err(ErrorCode::RoomFull);
        }
        let id = ParticipantId(state.next_id);
        // Taken before anything is sent, so no id a client has seen is ever handed out again.
        state.next_id += 1;
        let info = ParticipantInfo {
            id: id.to_string(),
            name,
            role,
            audio: true,
            video: true,
        };
        // `joined` goes out before the SFU hears of the participant, so it always arrives
        // before the first subscribe_offer.
        let joined = ServerMsg::Joined {
            v: VERSION,
            you: info.clone(),
            room: RoomInfo {
                id: self.id.to_string(),
                title: self.title.to_string(),
            },
            participants: state.members.values().map(|m| m.info.clone()).collect(),
            student_secret: (role == Role::Teacher).then(|| self.student_secret.as_str().into()),
        };
        let _ = out.send(Outgoing::Msg(joined));
        let sink_out = out.clone();
        let sink = Box::new(move |event: SfuEvent| {
            let _ = sink_out.send(Outgoing::Msg(to_wire(event)));
        });
        // Fails only while the server shuts down; the client then gets server_busy and a close.
        self.sfu
            .join(&self.id, id, sink)
            .map_err(|_| ErrorCode::ServerBusy)?;
        state.ever_joined = true;
        tracing::info!(participant = %id, ?role, "joined");
        let announce = ServerMsg::ParticipantJoined {
            participant: info.clone(),
        };
        broadcast(state, id, &announce);
        state.members.insert(id, Member { info, out });
        Ok(id)
    }
}

fn broadcast(state: &State, except: ParticipantId, msg: &ServerMsg) {
    for (id, m) in &state.members {
        if *id != except {
            let _ = m.out.send(Outgoing::Msg(msg.clone()));
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// An SFU event as the client sees it.
fn to_wire(event: SfuEvent) -> ServerMsg {
    match event {
        SfuEvent::PublishAnswer { sdp } => ServerMsg::PublishAnswer { sdp },
        SfuEvent::SubscribeOffer { sdp, tracks } => ServerMsg::SubscribeOffer {
            sdp,
            tracks: tracks
                .into_iter()
                .map(|t| TrackInfo {
                    mid: t.mid,
                    participant: t.participant.to_string(),
                    kind: t.kind.as_str(),
                    source: t.source.as_str(),
                })
                .collect(),
        },
        SfuEvent::Error(e) => ServerMsg::Error {
            code: e.code(),
            message: e.to_string(),
        },
    }
}
