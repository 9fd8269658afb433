//! A room's chat: the history late joiners see, and each sender's rate limit. Memory only:
//! nothing here is ever written to disk or logged, and it is dropped with the room.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::protocol::{ChatMessage, Role};

/// Messages a room keeps for late joiners. 500 covers a lesson's chat; beyond it the oldest
/// go, so a long meeting cannot grow a room's memory without bound.
pub const HISTORY: usize = 500;
/// Bytes of names and texts a room keeps for late joiners, as they go whole in every
/// `joined`: about 800 lines of a lesson's chat, or 64 messages of the longest kind. Beyond
/// it the oldest go, so a room's history costs each socket that joins at most this.
pub const HISTORY_BYTES: usize = 64 * 1024;
/// Messages a sender may send at once.
const BURST: f64 = 5.0;
/// After the burst, one message per this long.
const REFILL: Duration = Duration::from_secs(1);
/// A room's chat bytes at once: sixteen of the longest messages, hundreds of a lesson's.
const ROOM_BURST_BYTES: f64 = 64.0 * 1024.0;
/// A room's chat bytes a second after the burst: four of the longest messages.
const ROOM_BYTES_PER_SEC: f64 = 16.0 * 1024.0;

#[derive(Debug, Default)]
pub struct ChatLog {
    messages: VecDeque<ChatMessage>,
    /// Bytes of the kept messages' names and texts.
    bytes: usize,
    next_id: u64,
}

fn size(m: &ChatMessage) -> usize {
    m.name.len() + m.text.len()
}

impl ChatLog {
    /// Adds a message and returns it as sent to everyone.
    pub fn push(&mut self, from: String, name: String, role: Role, text: String) -> ChatMessage {
        self.next_id += 1;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let message = ChatMessage {
            id: self.next_id,
            from,
            name,
            role,
            text,
            at,
        };
        self.bytes += size(&message);
        self.messages.push_back(message.clone());
        while self.messages.len() > HISTORY || self.bytes > HISTORY_BYTES {
            let Some(old) = self.messages.pop_front() else {
                break;
            };
            self.bytes -= size(&old);
        }
        message
    }

    pub fn history(&self) -> Vec<ChatMessage> {
        self.messages.iter().cloned().collect()
    }
}

/// A token bucket: for chat [`BURST`] messages at once, then one per [`REFILL`].
#[derive(Debug, Clone)]
pub struct RateLimit {
    tokens: f64,
    updated: Instant,
    burst: f64,
    refill: std::time::Duration,
}

impl RateLimit {
    /// Chat's limit.
    pub fn new(now: Instant) -> RateLimit {
        RateLimit::with(now, BURST, REFILL)
    }

    /// `burst` at once, then one per `refill`.
    pub fn with(now: Instant, burst: f64, refill: std::time::Duration) -> RateLimit {
        RateLimit {
            tokens: burst,
            updated: now,
            burst,
            refill,
        }
    }

    /// Takes a token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.allow_n(now, 1.0)
    }

    /// Takes `n` tokens if there are that many.
    pub fn allow_n(&mut self, now: Instant, n: f64) -> bool {
        let earned = now.duration_since(self.updated).as_secs_f64() / self.refill.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
        self.updated = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// A whole room's chat, in bytes: everyone's messages together come to at most
    /// [`ROOM_BURST_BYTES`] at once and [`ROOM_BYTES_PER_SEC`] after. Each message goes to
    /// everyone, so this is what chat can put into any one socket's queue (512 KiB), however
    /// many senders there are: 45 people sending their burst of five messages of 1,000
    /// four-byte characters at once would be 900 kB to each.
    pub fn room_bytes(now: Instant) -> RateLimit {
        let per_byte = std::time::Duration::from_secs_f64(1.0 / ROOM_BYTES_PER_SEC);
        RateLimit::with(now, ROOM_BURST_BYTES, per_byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_latest_messages_in_order() {
        let mut log = ChatLog::default();
        for i in 0..HISTORY + 3 {
            log.push("p0".into(), "A".into(), Role::Participant, format!("{i}"));
        }
        let h = log.history();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].text, "3");
        assert_eq!(h[0].id, 4);
        assert_eq!(h.last().unwrap().id, HISTORY as u64 + 3);
    }

    #[test]
    fn history_is_bounded_in_bytes_and_keeps_the_newest() {
        let mut log = ChatLog::default();
        for i in 0..200 {
            let text = format!("{i:04}{}", "x".repeat(996));
            log.push("p0".into(), "Anna".into(), Role::Participant, text);
        }
        let h = log.history();
        let bytes: usize = h.iter().map(size).sum();
        assert!(bytes <= HISTORY_BYTES, "{bytes}");
        assert_eq!(h.len(), HISTORY_BYTES / 1004, "as many as fit");
        assert!(
            h.last().unwrap().text.starts_with("0199"),
            "the newest kept"
        );
        assert_eq!(log.bytes, bytes, "the count follows what is kept");
    }

    #[test]
    fn a_rooms_chat_is_bounded_in_bytes() {
        let t0 = Instant::now();
        let mut room = RateLimit::room_bytes(t0);
        let longest = 4000.0;
        let at_once = (0..100).take_while(|_| room.allow_n(t0, longest)).count();
        assert_eq!(at_once, 16, "64 KiB at once");
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            (0..100)
                .take_while(|_| room.allow_n(later, longest))
                .count(),
            4
        );
        assert!(
            room.allow_n(later + Duration::from_millis(10), 100.0),
            "a short line soon"
        );
    }

    #[test]
    fn rate_limit_allows_a_burst_then_one_per_second() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(t0);
        assert!((0..5).all(|_| limit.allow(t0)));
        assert!(!limit.allow(t0));
        assert!(!limit.allow(t0 + Duration::from_millis(900)));
        assert!(limit.allow(t0 + Duration::from_millis(1000)));
        assert!(!limit.allow(t0 + Duration::from_millis(1100)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..5).all(|_| limit.allow(later)));
        assert!(!limit.allow(later));
    }
}
