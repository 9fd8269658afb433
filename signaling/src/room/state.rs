//! What a room task holds: the admitted members, the lobby, the sessions it has seen, its
//! settings, hands and chat. Owned by the room task alone; these are the helpers to read it
//! and to send to groups of people in it.

use std::collections::{BTreeMap, HashMap, HashSet};

use aula_sfu::ParticipantId;
use tokio::time::Instant;

use super::chat::{ChatLog, RateLimit};
use super::{Outbox, Outgoing, SocketId};
use crate::admission::Seat;
use crate::protocol::{ParticipantInfo, Role, ServerMsg, Settings, WaitingInfo};
use crate::registry::Secret;

/// Sessions a room remembers: far more than a class has people, so reloads and network changes
/// are always recognised, yet bounded against a script that joins and leaves in a loop.
const MAX_SESSIONS: usize = 1000;

/// A member's own changes (hand, media flags) announced to the room at once: a page sends a
/// few when someone clicks; a flood of them must not become a flood of broadcasts to everyone.
pub const ANNOUNCE_BURST: f64 = 10.0;
/// After the burst, one announcement per this long; what changes meanwhile goes out then.
pub const ANNOUNCE_REFILL: std::time::Duration = std::time::Duration::from_millis(250);
/// The shortest time between two `lobby_updated` to a host: the list of 2000 knocks in 0.6 s
/// arrives as three lists, not 4000, and a teacher still sees a knock within a blink.
pub const LOBBY_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Member {
    pub info: ParticipantInfo,
    pub out: Outbox,
    pub session: String,
    /// Joined with the host link, so the host role cannot be taken away.
    pub by_host_link: bool,
    /// Joined with the host link and the room's creator key.
    pub creator: bool,
    /// The socket that speaks for this member now.
    pub socket: SocketId,
    /// The member's resume token (docs/protocol.md, `resume`).
    pub resume: Secret,
    /// Its socket is gone without a `leave`: the seat is kept until then for a resume.
    pub away_until: Option<Instant>,
    /// While away: its seat on the server (admission), kept for its resume, which takes it
    /// without queueing; freed when the member goes.
    pub seat: Option<Seat>,
    /// Its media state was lost (`RoomTask::handle_media_lost`) and its page has not
    /// published since: its resume starts the page's connections anew.
    pub media_lost: bool,
    /// `view` updates: 10 at once, then 10 a second (a page sends at most 5 a second).
    pub view_limit: RateLimit,
    /// Announcements of its own changes: [`ANNOUNCE_BURST`] at once, then one per
    /// [`ANNOUNCE_REFILL`].
    pub announce_limit: RateLimit,
    /// A change the limit held back goes out at this time, as the member then is.
    pub announce_due: Option<Instant>,
}

impl Member {
    pub fn is_host(&self) -> bool {
        self.info.role == Role::Host
    }

    /// The room's lead: its creator (by the creator key), or until she has come the first
    /// with the host link; either only while still a host by the host link.
    pub fn is_lead(&self, state: &State) -> bool {
        let stand_in =
            !state.creator_joined && state.lead_session.as_deref() == Some(self.session.as_str());
        self.by_host_link && (self.creator || stand_in)
    }

    pub fn send(&self, msg: ServerMsg) {
        let _ = self.out.send(Outgoing::Msg(msg));
    }
}

pub struct Waiting {
    pub id: ParticipantId,
    pub name: String,
    pub out: Outbox,
    pub session: String,
    pub socket: SocketId,
    /// The address it is counted under (crate::addresses), if any.
    pub addr: Option<std::net::IpAddr>,
}

/// What the room remembers about a session (a browser's per-room token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Was let in: a rejoin skips the lobby and the lock.
    Admitted,
    /// Was removed by a host: a rejoin is refused.
    Removed,
    /// Was denied entry from the lobby by a host: knocking again is refused.
    Denied,
}

impl SessionState {
    /// A host turned this session away: it is remembered for as long as the room lives.
    pub fn barred(self) -> bool {
        self != SessionState::Admitted
    }
}

pub struct State {
    pub members: BTreeMap<ParticipantId, Member>,
    /// In order of arrival.
    pub lobby: Vec<Waiting>,
    pub sessions: HashMap<String, SessionState>,
    /// Chat rate limits by session, not by socket, so opening more sockets with one session
    /// does not buy more messages.
    pub chat_limits: HashMap<String, RateLimit>,
    pub settings: Settings,
    pub participant_secret: Secret,
    pub chat: ChatLog,
    pub next_id: u32,
    /// The next raised hand's place key.
    pub next_hand: u64,
    /// Whom a host put in the spotlight for everyone.
    pub spotlight: Option<ParticipantId>,
    /// When the room became empty (or was created, before anyone joined).
    pub empty_since: Instant,
    pub ever_joined: bool,
    /// When the hosts last heard who waits, and when they hear it next if a change since is
    /// held back: a flood of knocks costs each host at most 4 lists a second.
    pub lobby_told_at: Option<Instant>,
    /// Who was waiting at the last `lobby_updated`: the next one names only who came since.
    pub lobby_told: Vec<ParticipantId>,
    pub lobby_due: Option<Instant>,
    /// The session of the first who joined with the host link: the room's lead until its
    /// creator joins (`creator_joined`), who alone may remove or demote other host-link
    /// holders and renew the host link (a student who read the host link off a screen must
    /// not be able to do the same to the teacher).
    pub lead_session: Option<String>,
    /// Someone joined with the host link and the room's creator key: from then on only such
    /// members lead.
    pub creator_joined: bool,
    /// The whole room's chat, in bytes (chat::RateLimit::room_bytes).
    pub chat_bytes: RateLimit,
}

impl State {
    pub fn new(settings: Settings, participant_secret: Secret) -> State {
        State {
            members: BTreeMap::new(),
            lobby: Vec::new(),
            sessions: HashMap::new(),
            chat_limits: HashMap::new(),
            settings,
            participant_secret,
            chat: ChatLog::default(),
            next_id: 0,
            next_hand: 1,
            spotlight: None,
            empty_since: Instant::now(),
            ever_joined: false,
            lobby_told_at: None,
            lobby_told: Vec::new(),
            lobby_due: None,
            lead_session: None,
            creator_joined: false,
            chat_bytes: RateLimit::room_bytes(Instant::now()),
        }
    }

    /// Remembers an admitted session. Past [`MAX_SESSIONS`] the room forgets the admitted
    /// sessions of people who are not in it now (they would pass the lobby again if they came
    /// back); removed sessions are never forgotten.
    pub fn admit_session(&mut self, session: &str) {
        if self.sessions.len() >= MAX_SESSIONS {
            let present: HashSet<&str> =
                self.members.values().map(|m| m.session.as_str()).collect();
            let keep = |k: &String, v: &SessionState| v.barred() || present.contains(k.as_str());
            self.sessions.retain(|k, v| keep(k, v));
            self.chat_limits.retain(|k, _| present.contains(k.as_str()));
        }
        self.sessions
            .insert(session.to_string(), SessionState::Admitted);
    }

    /// Whether `socket` is the one that speaks for `participant` now: a member's current
    /// socket, or a waiting participant's (each join has an id of its own).
    pub fn speaks_for(&self, participant: ParticipantId, socket: SocketId) -> bool {
        match self.members.get(&participant) {
            Some(m) => m.socket == socket,
            None => self
                .lobby
                .iter()
                .any(|w| w.id == participant && w.socket == socket),
        }
    }

    /// Nobody admitted and nobody waiting.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.lobby.is_empty()
    }

    /// What a host learns on becoming one, or a stand-in lead on losing the lead.
    pub fn host_info(&self, lead: bool) -> ServerMsg {
        ServerMsg::HostInfo {
            participant_secret: self.participant_secret.as_str().to_string(),
            waiting: self.waiting_list(),
            lead,
        }
    }

    pub fn waiting_list(&self) -> Vec<WaitingInfo> {
        self.lobby
            .iter()
            .map(|w| WaitingInfo {
                id: w.id.to_string(),
                name: w.name.clone(),
            })
            .collect()
    }

    pub fn infos_except(&self, except: ParticipantId) -> Vec<ParticipantInfo> {
        self.members
            .iter()
            .filter(|(id, _)| **id != except)
            .map(|(_, m)| m.info.clone())
            .collect()
    }

    /// To every admitted member (serialized once).
    pub fn broadcast(&self, msg: &ServerMsg) {
        send_all(self.members.values(), msg);
    }

    /// To every admitted member but one.
    pub fn broadcast_except(&self, except: ParticipantId, msg: &ServerMsg) {
        let others = self.members.iter().filter(|(id, _)| **id != except);
        send_all(others.map(|(_, m)| m), msg);
    }

    pub fn to_hosts(&self, msg: &ServerMsg) {
        send_all(self.members.values().filter(|m| m.is_host()), msg);
    }

    /// Tells the hosts who is waiting now: at once, or if they heard within [`LOBBY_EVERY`],
    /// once that has passed, with every change since in one list.
    pub fn lobby_changed(&mut self) {
        let now = Instant::now();
        match self.lobby_told_at {
            Some(told) if now < told + LOBBY_EVERY => {
                self.lobby_due.get_or_insert(told + LOBBY_EVERY);
            }
            _ => self.tell_lobby(now),
        }
    }

    /// Sends the held-back lobby list if it is due.
    pub fn lobby_due(&mut self, now: Instant) {
        if self.lobby_due.is_some_and(|t| t <= now) {
            self.tell_lobby(now);
        }
    }

    fn tell_lobby(&mut self, now: Instant) {
        self.lobby_due = None;
        self.lobby_told_at = Some(now);
        // A host who joined (or became one) since the last update got the whole list then,
        // which holds everyone waiting before that update; whoever came after is in `arrived`.
        let arrived = (self.lobby.iter())
            .filter(|w| !self.lobby_told.contains(&w.id))
            .map(|w| WaitingInfo {
                id: w.id.to_string(),
                name: w.name.clone(),
            })
            .collect();
        let waiting = self.lobby.iter().map(|w| w.id.to_string()).collect();
        self.lobby_told = self.lobby.iter().map(|w| w.id).collect();
        self.to_hosts(&ServerMsg::LobbyUpdated { waiting, arrived });
    }

    /// Tells everyone a member's own change (hand, media flags) within its announce limit;
    /// beyond it, the member's state as it then is goes out when the limit allows. Returns
    /// whether it was held back.
    pub fn announce(&mut self, id: ParticipantId, now: Instant) -> bool {
        let Some(m) = self.members.get_mut(&id) else {
            return false;
        };
        if m.announce_due.is_some() {
            return true;
        }
        if m.announce_limit.allow(now) {
            self.member_changed(id);
            return false;
        }
        m.announce_due = Some(now + ANNOUNCE_REFILL);
        true
    }

    /// Announces the held-back changes that are due.
    pub fn announce_due(&mut self, now: Instant) {
        let due: Vec<ParticipantId> = (self.members.iter())
            .filter(|(_, m)| m.announce_due.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(m) = self.members.get_mut(&id) {
                m.announce_due = None;
                m.announce_limit.allow(now);
            }
            self.member_changed(id);
        }
    }

    /// The next held-back announcement.
    pub fn next_announcement(&self) -> Option<Instant> {
        self.members.values().filter_map(|m| m.announce_due).min()
    }

    /// Tells everyone (the member included) a member's new state.
    pub fn member_changed(&self, id: ParticipantId) {
        if let Some(m) = self.members.get(&id) {
            let participant = m.info.clone();
            self.broadcast(&ServerMsg::ParticipantUpdated { participant });
        }
    }

    /// Every socket in the room, admitted or waiting.
    pub fn all_outboxes(&self) -> impl Iterator<Item = &Outbox> {
        let members = self.members.values().map(|m| &m.out);
        members.chain(self.lobby.iter().map(|w| &w.out))
    }
}

/// Sends `msg` to `members`, serialized once for all of them.
fn send_all<'a>(members: impl Iterator<Item = &'a Member>, msg: &ServerMsg) {
    let mut text = None;
    for m in members {
        let text = text.get_or_insert_with(|| crate::outbox::serialize(msg));
        let _ = m.out.send(Outgoing::Text(text.clone()));
    }
}
