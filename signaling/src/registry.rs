//! The registry of open rooms: room id to the room's task and its two link secrets. A DashMap,
//! because it is the one lookup every join does across rooms; each room's own state lives in
//! its task ([`crate::room`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aula_sfu::{RoomId, SfuHandle};
use dashmap::DashMap;
use rand::TryRngCore;
use rand::rngs::OsRng;
use tokio::sync::{mpsc, watch};

use crate::addresses::Hold;
use crate::protocol::{Role, RoomKind, Settings};
use crate::room::{RoomLimits, RoomMsg, RoomTask};

/// Messages waiting for a room task; joins beyond this wait their turn (backpressure).
const ROOM_INBOX: usize = 256;

/// A link secret: 128 bits from the operating system's RNG, shown as 32 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 16];
        OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system RNG is available");
        Secret(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the strings differ.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

/// Compares without returning early, so the time taken tells nothing about a secret.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone)]
pub struct RoomEntry {
    pub title: Arc<str>,
    pub kind: RoomKind,
    pub host_secret: Secret,
    /// Given only to whoever created the room (`creator_key` of `POST /api/rooms`), never
    /// renewed: a host-link join that presents it is the room's lead, from any tab.
    pub creator_key: Secret,
    /// Replaced when a host renews the participant link.
    pub participant_secret: Secret,
    /// Participant secrets renewed away, newest last (at most [`RETIRED_LINKS`]): they admit
    /// nobody new, only sessions the room has admitted before (a student whose network
    /// dropped after the teacher renewed the link still gets back in).
    pub retired: Vec<Secret>,
    pub inbox: mpsc::Sender<RoomMsg>,
}

/// Renewed participant links a room remembers for returning sessions. A teacher renews the
/// link once or twice in a lesson; beyond this many, the oldest stops working entirely.
const RETIRED_LINKS: usize = 8;

/// What a presented secret grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Role(Role),
    /// A renewed-away participant link: a returning session only.
    OldParticipantLink,
}

impl RoomEntry {
    /// What a secret grants in this room, if anything.
    pub fn grant_for(&self, secret: &str) -> Option<Grant> {
        if self.host_secret.matches(secret) {
            Some(Grant::Role(Role::Host))
        } else if self.participant_secret.matches(secret) {
            Some(Grant::Role(Role::Participant))
        } else if self.retired.iter().any(|s| s.matches(secret)) {
            Some(Grant::OldParticipantLink)
        } else {
            None
        }
    }
}

/// A room as it is asked for.
pub struct NewRoom {
    pub title: String,
    pub kind: RoomKind,
    pub settings: Settings,
    /// Its place under its creator's address's cap, held as long as the room is open.
    pub owner: Option<Hold>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the server has reached its limit of {0} open rooms")]
    TooManyRooms(usize),
}

pub struct Registry {
    rooms: DashMap<RoomId, RoomEntry>,
    max_rooms: usize,
    /// What the room tasks count for /metrics.
    pub counters: Counters,
}

/// Counters the room tasks keep, for /metrics. Atomics: every room task bumps them.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sessions that came back on a new socket within their grace.
    pub resumes: AtomicU64,
    /// `resume`s refused: an unknown, expired or other room's token.
    pub resumes_failed: AtomicU64,
    /// Participants whose socket went without a `leave` and who were kept for a resume.
    pub reconnecting: AtomicU64,
    /// Participants whose grace ended without a resume (they left).
    pub resume_expired: AtomicU64,
    /// `view` messages refused for coming too fast.
    pub views_limited: AtomicU64,
    /// A member's own changes (hand, media flags) that came too fast to announce at once:
    /// the room heard them, merged, a moment later.
    pub announcements_held: AtomicU64,
    /// WebSockets closed for sending no `join` within a minute.
    pub sockets_without_join: AtomicU64,
    /// Room creations and WebSockets refused for coming from another site's page.
    pub origins_refused: AtomicU64,
    /// `/metrics` requests refused: from elsewhere, or through a proxy, without the token.
    pub metrics_refused: AtomicU64,
    /// TCP connections refused (a plain `503`) for coming beyond `max_connections`.
    pub connections_refused: AtomicU64,
    /// Requests whose response was not ready within a deadline (`408`): a body trickled in.
    pub requests_timed_out: AtomicU64,
    /// Refusals for an address's cap, by cap (crate::addresses): WebSockets, rooms an hour,
    /// rooms open, joins a minute, people in one lobby.
    pub address_sockets: AtomicU64,
    pub address_connections: AtomicU64,
    pub address_rooms_per_hour: AtomicU64,
    pub address_open_rooms: AtomicU64,
    pub address_joins: AtomicU64,
    pub address_lobby: AtomicU64,
    /// Room creations refused for naming a host the links may not be built from.
    pub hosts_refused: AtomicU64,
    /// WebSocket frames dropped unread for coming beyond the session's budget (crate::budget).
    pub messages_dropped: AtomicU64,
    /// WebSockets closed (1008) for flooding far beyond their budget.
    pub sockets_flooding: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refusal for an address's cap.
    pub fn address_refused(&self, refusal: crate::addresses::Refusal) {
        use crate::addresses::Refusal;
        Counters::bump(match refusal {
            Refusal::Sockets => &self.address_sockets,
            Refusal::Connections => &self.address_connections,
            Refusal::RoomsPerHour => &self.address_rooms_per_hour,
            Refusal::OpenRooms => &self.address_open_rooms,
            Refusal::Joins => &self.address_joins,
        });
    }
}

impl Registry {
    pub fn new(max_rooms: usize) -> Registry {
        Registry {
            rooms: DashMap::new(),
            max_rooms,
            counters: Counters::default(),
        }
    }

    pub fn get(&self, id: &str) -> Option<RoomEntry> {
        self.rooms.get(id).map(|e| e.clone())
    }

    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    pub fn remove(&self, id: &str) {
        self.rooms.remove(id);
    }

    /// Gives a room a new participant secret; the old one admits nobody from now on.
    /// A new host secret for room `id`; the old one admits nobody from now on.
    pub fn renew_host_secret(&self, id: &str) -> Secret {
        let secret = Secret::generate();
        if let Some(mut entry) = self.rooms.get_mut(id) {
            entry.host_secret = secret.clone();
        }
        secret
    }

    pub fn renew_participant_secret(&self, id: &str) -> Secret {
        let secret = Secret::generate();
        if let Some(mut entry) = self.rooms.get_mut(id) {
            let old = std::mem::replace(&mut entry.participant_secret, secret.clone());
            if entry.retired.len() == RETIRED_LINKS {
                entry.retired.remove(0);
            }
            entry.retired.push(old);
        }
        secret
    }

    /// Creates a room and starts its task.
    pub fn create(
        self: &Arc<Self>,
        new: NewRoom,
        limits: RoomLimits,
        sfu: SfuHandle,
        stop: watch::Receiver<bool>,
    ) -> Result<(RoomId, RoomEntry), CreateError> {
        let NewRoom {
            title,
            kind,
            settings,
            owner,
        } = new;
        if self.rooms.len() >= self.max_rooms {
            return Err(CreateError::TooManyRooms(self.max_rooms));
        }
        let (tx, inbox) = mpsc::channel(ROOM_INBOX);
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let entry = RoomEntry {
            title: title.into(),
            kind,
            host_secret: Secret::generate(),
            creator_key: Secret::generate(),
            participant_secret: Secret::generate(),
            retired: Vec::new(),
            inbox: tx,
        };
        let id: RoomId = new_room_id().into();
        self.rooms.insert(id.clone(), entry.clone());
        let task = RoomTask {
            id: id.clone(),
            title: entry.title.clone(),
            kind,
            settings,
            participant_secret: entry.participant_secret.clone(),
            limits,
            sfu,
            registry: self.clone(),
            inbox,
            media_tx,
            media_rx,
            stop,
            _owner: owner,
        };
        tokio::spawn(task.run());
        Ok((id, entry))
    }
}

/// Ten lowercase letters and digits: short enough to read out, unguessable enough (~51
/// bits) that rooms cannot be enumerated; the secrets guard entry.
fn new_room_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system RNG is available");
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_128_bit_hex_and_distinct() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn secret_match_is_exact() {
        let s = Secret::generate();
        assert!(s.matches(s.as_str()));
        assert!(!s.matches(&s.as_str()[..31]));
        assert!(!s.matches(""));
        let mut other = s.as_str().to_string();
        other.replace_range(31.., if other.ends_with('0') { "1" } else { "0" });
        assert!(!s.matches(&other));
    }

    #[test]
    fn room_ids_use_the_alphabet() {
        let id = new_room_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
