//! A room, owned by one task: who is in it and who waits in its lobby, with which name and
//! role; its settings, hands and chat; and when it ends. Everything changes through
//! [`RoomMsg`]s, so there is no lock around a room. Media is the SFU's business; this task
//! tells the SFU who joined and left, passes on their SDP, and opens or closes the gates on
//! their sources, which is how a host's mute is enforced whatever the client does.
//!
//! # Layout
//! - this file: the task's loop, joining (lobby or straight in), admitting, leaving, ending.
//! - `presence`: staying in through network trouble: resumes, the grace of a lost socket,
//!   connection quality.
//! - `actions`: every client message of an admitted member, host actions included.
//! - `state`: what the task holds, and sending to groups of people.
//! - `chat`: chat history and rate limits.

mod actions;
mod chat;
mod presence;
mod state;

use std::net::IpAddr;
use std::sync::Arc;

use aula_sfu::{Command, EventSink, ParticipantId, Quality, RoomId, SfuEvent, SfuHandle, Source};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::admission::Seat;
use crate::protocol::{
    ClientMsg, EncodingState, EndReason, ErrorCode, Joined, ParticipantInfo, Role, RoomInfo,
    RoomKind, ServerMsg, Settings, StreamRef, TrackInfo, VERSION, same_name,
};
use crate::registry::{Counters, Grant, Registry, Secret};
use state::{Member, SessionState, State, Waiting};

pub use crate::outbox::{Outbox, Outgoing};

/// Seats hosts may take beyond a full room's limit, so strangers filling a class never lock
/// its teacher out; a join with the host link beyond them gets `room_full` like anyone.
pub const HOST_SEATS: usize = 10;
pub use chat::RateLimit;

/// Which WebSocket a message came from. A resumed session moves to a new socket, and what
/// its old one still says (its last messages, its close) must not act for it.
pub type SocketId = u64;

#[derive(Debug)]
pub enum RoomMsg {
    Join {
        name: String,
        grant: Grant,
        /// The secret the grant came from, checked again here: a `renew_link` handled
        /// between the socket's check and this join must still turn it away.
        secret: String,
        session: Option<String>,
        /// It joined with the host link and the room's creator key.
        creator: bool,
        out: Outbox,
        socket: SocketId,
        /// The address the socket is counted under (crate::addresses), for the lobby's share.
        addr: Option<IpAddr>,
        reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
    },
    /// A new socket takes the place of a member's earlier one (docs/protocol.md, `resume`).
    Resume {
        token: String,
        fresh: bool,
        out: Outbox,
        socket: SocketId,
        reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
    },
    /// Whether `token` is a member's resume token now: asked before a resume takes a place
    /// in the server's join queue, where resumes go ahead of new joins. A member who is away
    /// hands over the seat it kept, and the resume needs no place at all.
    KnowsToken {
        token: String,
        reply: oneshot::Sender<TokenCheck>,
    },
    /// A resume with `token` waits in the server's queue: a seat its member kept (its old
    /// socket ended after `KnowsToken`) goes to it.
    ResumeQueued { token: String },
    /// Any message after `join` but `leave`, from an admitted or a waiting participant.
    Client {
        participant: ParticipantId,
        socket: SocketId,
        msg: ClientMsg,
    },
    /// The socket is done: `how` says whether the participant meant to go. Its seat on the
    /// server stays with a member kept for a resume (presence.rs, `handle_departure`).
    Leave {
        participant: ParticipantId,
        socket: SocketId,
        how: Departure,
        seat: Option<Seat>,
    },
    /// How many wait in the server's join queue to enter this room, for its hosts.
    ServerQueue { waiting: usize },
}

/// The room's answer to `KnowsToken`.
#[derive(Debug)]
pub enum TokenCheck {
    /// No member has this token: the resume fails.
    Unknown,
    /// A member's; with the seat it kept while away, if it had one.
    Known(Option<Seat>),
}

/// How a socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// `leave`: gone for good, now.
    Left,
    /// `leave` with `may_return`: the page is being unloaded; a reload resumes shortly.
    Unloading,
    /// The socket closed or went silent without a word: the network, most likely.
    Lost,
}

/// Limits and timings a room task needs.
#[derive(Debug, Clone)]
pub struct RoomLimits {
    pub max_participants: usize,
    pub empty_grace: std::time::Duration,
    pub unused_ttl: std::time::Duration,
    /// How long a member whose socket was lost keeps its seat for a resume.
    pub resume_grace: std::time::Duration,
    /// The same after `leave` with `may_return`.
    pub unload_grace: std::time::Duration,
    /// TURN credentials for `joined`, when the server has TURN configured.
    pub turn: Option<crate::turn::Turn>,
    /// People from one address (crate::addresses' key) who may wait in the lobby at once.
    pub lobby_per_address: usize,
}

/// A join as its socket asked for it.
struct Knock {
    name: String,
    session: Option<String>,
    creator: bool,
    out: Outbox,
    socket: SocketId,
    /// The address it is counted under; `None` for one not counted (loopback, exempt).
    addr: Option<IpAddr>,
}

/// Who is being let in, and through which socket.
struct Entry {
    id: ParticipantId,
    name: String,
    role: Role,
    /// Joined with the host link, so the host role cannot be taken away.
    by_host_link: bool,
    /// Joined with the host link and the creator key: the room's lead.
    creator: bool,
    session: String,
    out: Outbox,
    socket: SocketId,
}

/// Whether the room goes on after a message.
enum Flow {
    Continue,
    End(EndReason),
}

/// What the SFU says of a member that the room's task handles, not its socket.
#[derive(Debug)]
pub enum MediaNote {
    /// Its connections were rated anew.
    Quality(Quality),
    /// Its media state is gone (a fault in the room's media code, `SfuEvent::MediaLost`).
    Lost,
}

pub struct RoomTask {
    pub id: RoomId,
    pub title: Arc<str>,
    pub kind: RoomKind,
    pub settings: Settings,
    pub participant_secret: Secret,
    pub limits: RoomLimits,
    pub sfu: SfuHandle,
    pub registry: Arc<Registry>,
    pub inbox: mpsc::Receiver<RoomMsg>,
    /// What the SFU says of members that this task handles (quality ratings, lost media),
    /// from their event sinks (the SFU worker thread must not block, and a rating changes at
    /// most every 2 s per member, media is lost at most once per fault: unbounded is safe).
    pub media_tx: mpsc::UnboundedSender<(ParticipantId, MediaNote)>,
    pub media_rx: mpsc::UnboundedReceiver<(ParticipantId, MediaNote)>,
    pub stop: watch::Receiver<bool>,
    /// The room's place under its creator's address's cap, given back as the task ends.
    pub _owner: Option<crate::addresses::Hold>,
}

impl RoomTask {
    pub async fn run(mut self) {
        let span = tracing::info_span!("room", id = %self.id);
        async move {
            let mut state = State::new(self.settings, self.participant_secret.clone());
            let ended = loop {
                let deadline = self.deadline(&state);
                tokio::select! {
                    msg = self.inbox.recv() => match msg {
                        Some(msg) => match self.handle(&mut state, msg) {
                            Flow::Continue => {}
                            Flow::End(reason) => break Some(reason),
                        },
                        None => break None,
                    },
                    Some((id, note)) = self.media_rx.recv() => match note {
                        MediaNote::Quality(quality) => self.handle_quality(&mut state, id, quality),
                        MediaNote::Lost => self.handle_media_lost(&mut state, id),
                    },
                    _ = sleep_until(deadline) => {
                        state.announce_due(Instant::now());
                        state.lobby_due(Instant::now());
                        self.expire_graces(&mut state, Instant::now());
                        if self.is_over(&state, Instant::now()) {
                            tracing::info!("room closed: empty");
                            break None;
                        }
                    }
                    _ = self.stop.changed() => break None,
                }
            };
            // Unregister first, so no new join can reach a room that is going away.
            self.registry.remove(&self.id);
            let _ = self.sfu.send(&self.id, Command::Close);
            let (code, why) = match ended {
                Some(reason) => {
                    tracing::info!(?reason, "room ended");
                    let msg = ServerMsg::RoomEnded { reason };
                    for out in state.all_outboxes() {
                        let _ = out.send(Outgoing::Msg(msg.clone()));
                    }
                    (1000, "room ended")
                }
                None => (1001, "room closed"),
            };
            for out in state.all_outboxes() {
                let _ = out.send(Outgoing::Close(code, why));
            }
        }
        .instrument(span)
        .await
    }

    /// The next moment something is due: a lost member's grace ends, a held-back change or
    /// lobby list is announced, or the room has been empty for long enough.
    fn deadline(&self, state: &State) -> Option<Instant> {
        let graces = state.members.values().filter_map(|m| m.away_until).min();
        let announcements = state.next_announcement();
        (graces
            .into_iter()
            .chain(announcements)
            .chain(state.lobby_due))
        .chain(self.empty_deadline(state))
        .min()
    }

    fn empty_deadline(&self, state: &State) -> Option<Instant> {
        if !state.is_empty() {
            return None;
        }
        let wait = if state.ever_joined {
            self.limits.empty_grace
        } else {
            self.limits.unused_ttl
        };
        Some(state.empty_since + wait)
    }

    fn is_over(&self, state: &State, now: Instant) -> bool {
        self.empty_deadline(state).is_some_and(|d| d <= now)
    }

    fn handle(&self, state: &mut State, msg: RoomMsg) -> Flow {
        match msg {
            RoomMsg::Join {
                name,
                grant,
                secret,
                session,
                creator,
                out,
                socket,
                addr,
                reply,
            } => {
                let grant = match grant {
                    Grant::Role(Role::Participant)
                        if !state.participant_secret.matches(&secret) =>
                    {
                        Grant::OldParticipantLink
                    }
                    grant => grant,
                };
                let knock = Knock {
                    name,
                    session,
                    creator,
                    out,
                    socket,
                    addr,
                };
                let result = self.join(state, grant, knock);
                let _ = reply.send(result);
                Flow::Continue
            }
            RoomMsg::Resume {
                token,
                fresh,
                out,
                socket,
                reply,
            } => {
                let result = self.resume(state, &token, fresh, out, socket);
                let _ = reply.send(result);
                Flow::Continue
            }
            RoomMsg::KnowsToken { token, reply } => {
                let member = state
                    .members
                    .values_mut()
                    .find(|m| m.resume.matches(&token));
                let check = match member {
                    // Its seat goes to the new socket: a reload or a dropped Wi-Fi does not
                    // queue again behind the morning's new joins when the server is full.
                    Some(m) if m.away_until.is_some() => TokenCheck::Known(m.seat.take()),
                    Some(_) => TokenCheck::Known(None),
                    None => {
                        Counters::bump(&self.registry.counters.resumes_failed);
                        TokenCheck::Unknown
                    }
                };
                let _ = reply.send(check);
                Flow::Continue
            }
            RoomMsg::ResumeQueued { token } => {
                let member = state
                    .members
                    .values_mut()
                    .find(|m| m.resume.matches(&token));
                if let Some(m) = member.filter(|m| m.away_until.is_some()) {
                    m.seat = m.seat.take().and_then(|s| s.hand_to(&token, &self.id));
                }
                Flow::Continue
            }
            RoomMsg::Client {
                participant,
                socket,
                msg,
            } => {
                if !state.speaks_for(participant, socket) {
                    return Flow::Continue; // a socket another one has taken over from
                }
                self.handle_client(state, participant, msg)
            }
            RoomMsg::Leave {
                participant,
                socket,
                how,
                seat,
            } => {
                self.handle_departure(state, participant, socket, how, seat);
                Flow::Continue
            }
            RoomMsg::ServerQueue { waiting } => {
                state.to_hosts(&ServerMsg::Queue { waiting });
                Flow::Continue
            }
        }
    }

    /// Lets a participant in, or into the lobby, or refuses it.
    fn join(
        &self,
        state: &mut State,
        grant: Grant,
        knock: Knock,
    ) -> Result<ParticipantId, ErrorCode> {
        let Knock {
            name,
            session,
            creator,
            out,
            socket,
            addr,
        } = knock;
        let known = session
            .as_ref()
            .and_then(|s| state.sessions.get(s))
            .copied();
        match known {
            Some(SessionState::Removed) => return Err(ErrorCode::Removed),
            Some(SessionState::Denied) => return Err(ErrorCode::Denied),
            _ => {}
        }
        // A page that waits in the lobby and knocks again (its socket replaced after a
        // network change) takes its own place there (below, once nothing refuses it): listed
        // twice, the host could admit the stale entry, a member whose socket is gone. It is no
        // newcomer: a lock or a renewed link since it knocked first do not turn it away.
        let waited =
            (session.as_deref()).and_then(|s| state.lobby.iter().position(|w| w.session == s));
        let returning = known == Some(SessionState::Admitted);
        let role = match grant {
            Grant::Role(role) => role,
            Grant::OldParticipantLink if returning || waited.is_some() => Role::Participant,
            // A renewed link admits nobody new.
            Grant::OldParticipantLink => return Err(ErrorCode::BadSecret),
        };
        if state.settings.locked && role != Role::Host && !returning && waited.is_none() {
            return Err(ErrorCode::RoomLocked);
        }
        // Nobody passes for the teacher: in chat and in the people list a name is all there is.
        let hosts = state.members.values().filter(|m| m.is_host());
        if role != Role::Host && hosts.map(|m| &m.info.name).any(|n| same_name(n, &name)) {
            return Err(ErrorCode::NameTaken);
        }
        // Hosts are never turned away for a full room: a lobby filled by strangers must not
        // lock the teacher out of her own class. The lobby holds at most as many as the room.
        let to_lobby = role == Role::Participant && state.settings.lobby && !returning;
        // Its own old entry makes no room fuller.
        let own = |i: usize| waited == Some(i);
        let waiting = (state.lobby.iter().enumerate()).filter(|(i, _)| !own(*i));
        let full = if to_lobby {
            waiting.count() >= self.limits.max_participants
        } else {
            state.members.len() >= self.limits.max_participants
        };
        if full && role != Role::Host {
            return Err(ErrorCode::RoomFull);
        }
        // Nor by one address alone: its share of the lobby is `lobby_per_address`.
        let same = |(i, w): &(usize, &Waiting)| !own(*i) && addr.is_some() && w.addr == addr;
        let from_here = state.lobby.iter().enumerate().filter(same).count();
        if to_lobby && from_here >= self.limits.lobby_per_address {
            Counters::bump(&self.registry.counters.address_lobby);
            return Err(ErrorCode::LobbyFull);
        }
        // But not without bound: a host link read off a shared screen must not open a seat
        // (and a socket's worth of memory) per join.
        let host_seats = self.limits.max_participants + HOST_SEATS;
        if role == Role::Host && !returning && state.members.len() >= host_seats {
            return Err(ErrorCode::RoomFull);
        }
        // A knock again from the lobby takes over its own entry, in place: the same id and
        // name, the new socket. The hosts' pages see no change (no second knock sound, no
        // name again in `arrived`, no one leaving and coming back).
        if let Some(i) = waited.filter(|_| to_lobby) {
            let w = &mut state.lobby[i];
            let _ = w.out.send(Outgoing::Close(4000, "opened again elsewhere"));
            let lobby = ServerMsg::Lobby {
                room: self.room_info(),
                session: w.session.clone(),
            };
            let _ = out.send(Outgoing::Msg(lobby));
            (w.out, w.socket, w.addr) = (out, socket, addr);
            tracing::info!(participant = %w.id, "waiting in the lobby again, on a new socket");
            return Ok(w.id);
        }
        if let Some(s) = session
            .as_deref()
            .filter(|_| known.is_some() || waited.is_some())
        {
            self.replace_session(state, s);
        }
        let id = ParticipantId(state.next_id);
        // Taken before anything is sent, so no id a client has seen is ever handed out again.
        state.next_id += 1;
        let session = match session {
            Some(s) if known.is_some() || waited.is_some() => s,
            _ => Secret::generate().as_str().to_string(),
        };
        state.ever_joined = true;
        if to_lobby {
            tracing::info!(participant = %id, "waiting in the lobby");
            let lobby = ServerMsg::Lobby {
                room: self.room_info(),
                session: session.clone(),
            };
            let _ = out.send(Outgoing::Msg(lobby));
            let place = waited.unwrap_or(state.lobby.len()).min(state.lobby.len());
            let waiting = Waiting {
                id,
                name,
                out,
                session,
                socket,
                addr,
            };
            state.lobby.insert(place, waiting);
            state.lobby_changed();
            return Ok(id);
        }
        let entry = Entry {
            id,
            name,
            role,
            by_host_link: role == Role::Host,
            creator: creator && role == Role::Host,
            session,
            out,
            socket,
        };
        self.admit(state, entry)?;
        Ok(id)
    }

    /// Makes a participant a member: `joined`, the SFU, the others' `participant_joined`.
    fn admit(&self, state: &mut State, entry: Entry) -> Result<(), ErrorCode> {
        let Entry {
            id,
            name,
            role,
            by_host_link,
            creator,
            session,
            out,
            socket,
        } = entry;
        let host = role == Role::Host;
        let info = ParticipantInfo {
            id: id.to_string(),
            name,
            role,
            audio: host || (self.kind == RoomKind::Meeting && state.settings.unmute),
            video: host || state.settings.video,
            screen: false,
            hand: None,
            quality: Quality::Good.as_str(),
            reconnecting: false,
            host_link: by_host_link,
        };
        if by_host_link && !creator && state.lead_session.is_none() {
            state.lead_session = Some(session.clone());
        }
        let member = Member {
            info: info.clone(),
            out: out.clone(),
            session: session.clone(),
            by_host_link,
            creator,
            socket,
            resume: Secret::generate(),
            away_until: None,
            seat: None,
            media_lost: false,
            view_limit: chat::RateLimit::with(
                Instant::now(),
                10.0,
                std::time::Duration::from_millis(100),
            ),
            announce_limit: chat::RateLimit::with(
                Instant::now(),
                state::ANNOUNCE_BURST,
                state::ANNOUNCE_REFILL,
            ),
            announce_due: None,
        };
        // `joined` goes out before the SFU hears of the participant, so it always arrives
        // before the first subscribe_offer.
        let _ = out.send(Outgoing::Msg(self.joined_msg(state, &member, false)));
        // Fails only while the server shuts down; the client then gets server_busy and a close.
        self.sfu
            .join(&self.id, id, self.sink(id, out))
            .map_err(|_| ErrorCode::ServerBusy)?;
        if creator && !state.creator_joined {
            // The lead from now on, from any tab; whoever stood in for her until now is not.
            let stand_in = state.members.values().find(|m| m.is_lead(state));
            let told = stand_in.map(|m| (m, state.host_info(false)));
            state.creator_joined = true;
            if let Some((m, info)) = told {
                m.send(info);
            }
        }
        // Same queue as the join, so the gates are shut before any media can arrive.
        self.gate(id, Source::Microphone, info.audio);
        self.gate(id, Source::Camera, info.video);
        self.gate(id, Source::Screen, false);
        if host {
            self.tell_role(id, true);
        }
        tracing::info!(participant = %id, ?role, "joined");
        let announce = ServerMsg::ParticipantJoined {
            participant: info.clone(),
        };
        state.broadcast_except(id, &announce);
        state.admit_session(&session);
        state.members.insert(id, member);
        Ok(())
    }

    /// What a member gets on joining, and again on every resume.
    fn joined_msg(&self, state: &State, member: &Member, resumed: bool) -> ServerMsg {
        let host = member.is_host();
        let id = crate::protocol::parse_participant(&member.info.id).expect("our own id");
        ServerMsg::Joined(Box::new(Joined {
            v: VERSION,
            you: member.info.clone(),
            room: self.room_info(),
            session: member.session.clone(),
            resume: member.resume.as_str().to_string(),
            resume_grace_secs: self.limits.resume_grace.as_secs(),
            resumed,
            settings: state.settings,
            participants: state.infos_except(id),
            chat: state.chat.history(),
            participant_secret: host.then(|| state.participant_secret.as_str().to_string()),
            waiting: host.then(|| state.waiting_list()),
            ice_servers: (self.limits.turn.iter())
                .map(|t| t.credentials(std::time::SystemTime::now()))
                .collect(),
            lead: member.is_lead(state),
            spotlight: state.spotlight.map(|p| p.to_string()),
        }))
    }

    /// Where the SFU's events for a member go: media negotiation straight to its socket,
    /// quality ratings and lost media to this task (which tells the room, or joins again).
    fn sink(&self, id: ParticipantId, out: Outbox) -> EventSink {
        let media = self.media_tx.clone();
        Box::new(move |event: SfuEvent| match event {
            SfuEvent::Quality(q) => {
                let _ = media.send((id, MediaNote::Quality(q)));
            }
            SfuEvent::MediaLost => {
                let _ = media.send((id, MediaNote::Lost));
            }
            event => {
                if let Some(msg) = to_wire(event) {
                    let _ = out.send(Outgoing::Msg(msg));
                }
            }
        })
    }

    /// A session that comes back while its old socket is still here (a reload, a second tab):
    /// the old socket goes, so one session is one person in the room.
    fn replace_session(&self, state: &mut State, session: &str) {
        let member = state.members.iter().find(|(_, m)| m.session == session);
        if let Some((&id, m)) = member {
            let _ = m.out.send(Outgoing::Close(4000, "opened again elsewhere"));
            self.leave(state, id);
        }
        if let Some(pos) = state.lobby.iter().position(|w| w.session == session) {
            let w = state.lobby.remove(pos);
            let _ = w.out.send(Outgoing::Close(4000, "opened again elsewhere"));
            state.lobby_changed();
        }
    }

    /// Admits a waiting participant, if it waits and the room has room for it.
    fn admit_waiting(&self, state: &mut State, id: ParticipantId) -> Result<(), ErrorCode> {
        let Some(pos) = state.lobby.iter().position(|w| w.id == id) else {
            return Err(ErrorCode::UnknownParticipant);
        };
        if state.members.len() >= self.limits.max_participants {
            // The waiting person hears why nothing happened; the host gets `room_full`.
            let failed = ServerMsg::AdmitFailed {
                reason: ErrorCode::RoomFull.as_str(),
            };
            let _ = state.lobby[pos].out.send(Outgoing::Msg(failed));
            return Err(ErrorCode::RoomFull);
        }
        let w = state.lobby.remove(pos);
        let out = w.out.clone();
        let entry = Entry {
            id: w.id,
            name: w.name,
            role: Role::Participant,
            by_host_link: false,
            creator: false,
            session: w.session,
            out: w.out,
            socket: w.socket,
        };
        let admitted = self.admit(state, entry);
        if let Err(code) = admitted {
            let _ = out.send(Outgoing::Msg(
                code.message("the server cannot take this join now"),
            ));
            let _ = out.send(Outgoing::Close(4000, code.as_str()));
        }
        Ok(())
    }

    /// Admits everyone waiting while the room has room; returns how many still wait because
    /// it is full (each of them heard `admit_failed`).
    fn admit_all(&self, state: &mut State) -> usize {
        let waiting: Vec<ParticipantId> = state.lobby.iter().map(|w| w.id).collect();
        let mut left = 0;
        for id in waiting {
            if self.admit_waiting(state, id) == Err(ErrorCode::RoomFull) {
                left += 1; // they wait until someone leaves
            }
        }
        state.lobby_changed();
        left
    }

    /// Takes a participant out of the room or the lobby; the others hear of it.
    fn leave(&self, state: &mut State, participant: ParticipantId) {
        if let Some(pos) = state.lobby.iter().position(|w| w.id == participant) {
            state.lobby.remove(pos);
            tracing::info!(%participant, "left the lobby");
            state.lobby_changed();
        } else if state.members.remove(&participant).is_some() {
            tracing::info!(%participant, "left");
            let _ = self.sfu.send(&self.id, Command::Leave { participant });
            let left = ServerMsg::ParticipantLeft {
                id: participant.to_string(),
            };
            state.broadcast(&left);
            if state.spotlight == Some(participant) {
                state.spotlight = None;
                state.broadcast(&ServerMsg::Spotlight { participant: None });
            }
        } else {
            return;
        }
        if state.is_empty() {
            state.empty_since = Instant::now();
        }
    }

    fn gate(&self, participant: ParticipantId, source: Source, open: bool) {
        let cmd = Command::Gate {
            participant,
            source,
            open,
        };
        // Fails only while the server shuts down, when nothing is forwarded anyway.
        let _ = self.sfu.send(&self.id, cmd);
    }

    /// Tells the SFU whether a member is a host: its allocator keeps hosts' cameras first.
    pub(super) fn tell_role(&self, participant: ParticipantId, host: bool) {
        // Fails only while the server shuts down, when nothing is forwarded anyway.
        let _ = self.sfu.send(&self.id, Command::Role { participant, host });
    }

    fn room_info(&self) -> RoomInfo {
        RoomInfo {
            id: self.id.to_string(),
            title: self.title.to_string(),
            kind: self.kind,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// An SFU event as the client sees it; quality ratings go to the room task instead.
fn to_wire(event: SfuEvent) -> Option<ServerMsg> {
    let msg = match event {
        SfuEvent::PublishAnswer { sdp } => ServerMsg::PublishAnswer { sdp },
        SfuEvent::SubscribeOffer { sdp, tracks, reset } => ServerMsg::SubscribeOffer {
            sdp,
            reset,
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
        SfuEvent::Speakers { speaking, dominant } => ServerMsg::Speakers {
            speaking: speaking.iter().map(ToString::to_string).collect(),
            dominant: dominant.map(|d| d.to_string()),
        },
        SfuEvent::Error { error, re } => ServerMsg::Error {
            code: error.code(),
            message: error.to_string(),
            re: (!re.is_empty()).then_some(re),
            retry_after_secs: None,
        },
        SfuEvent::StreamUnavailable {
            publisher,
            source,
            reason,
            codec,
        } => ServerMsg::StreamUnavailable {
            participant: publisher.to_string(),
            source: source.as_str(),
            reason: reason.as_str(),
            codec,
        },
        SfuEvent::Bandwidth { paused, limited } => ServerMsg::Bandwidth {
            paused: paused
                .into_iter()
                .map(|(p, s)| StreamRef {
                    participant: p.to_string(),
                    source: s.as_str(),
                })
                .collect(),
            limited,
        },
        SfuEvent::Encodings { source, encodings } => ServerMsg::Encodings {
            source: source.as_str(),
            encodings: encodings
                .into_iter()
                .map(|(rid, active)| EncodingState { rid, active })
                .collect(),
        },
        SfuEvent::MaxBitrate {
            source: Source::Screen,
            max_bitrate,
        } => ServerMsg::ScreenBitrate { max_bitrate },
        SfuEvent::MaxBitrate { max_bitrate, .. } => ServerMsg::CameraBitrate { max_bitrate },
        SfuEvent::Quality(_) | SfuEvent::MediaLost => return None,
    };
    Some(msg)
}
