//! Signed-in staff: a random token (in an `HttpOnly` cookie) to the name it was given to, and
//! when it expires. Memory only: a restart signs everyone out, which costs a teacher one
//! sign-in and keeps no credential on disk. Sans-IO: time comes in as `now`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::registry::Secret;

/// Sessions kept at most. Far beyond any school's staff on their devices; a script signing in
/// again and again pushes out its own oldest sessions, not memory.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug)]
struct Session {
    user: Arc<str>,
    expires: Instant,
}

#[derive(Debug)]
pub struct Sessions {
    by_token: HashMap<String, Session>,
    lifetime: Duration,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            by_token: HashMap::new(),
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session for `user`; its token goes into the cookie.
    pub fn start(&mut self, user: &str, now: Instant) -> Secret {
        if self.by_token.len() >= MAX_SESSIONS {
            self.by_token.retain(|_, s| s.expires > now);
        }
        if self.by_token.len() >= MAX_SESSIONS {
            let oldest = self.by_token.iter().min_by_key(|(_, s)| s.expires);
            let oldest = oldest.map(|(t, _)| t.clone()).expect("full, so not empty");
            self.by_token.remove(&oldest);
        }
        let token = Secret::generate();
        let session = Session {
            user: user.into(),
            expires: now + self.lifetime,
        };
        self.by_token.insert(token.as_str().to_string(), session);
        token
    }

    /// Who `token` belongs to, if it is a live session.
    pub fn user(&mut self, token: &str, now: Instant) -> Option<Arc<str>> {
        let session = self.by_token.get(token)?;
        if session.expires <= now {
            self.by_token.remove(token);
            return None;
        }
        Some(session.user.clone())
    }

    pub fn end(&mut self, token: &str) {
        self.by_token.remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_its_lifetime_and_ends_on_sign_out() {
        let mut s = Sessions::new(Duration::from_secs(3600));
        let now = Instant::now();
        let token = s.start("weber", now);
        let later = now + Duration::from_secs(3599);
        assert_eq!(s.user(token.as_str(), later).as_deref(), Some("weber"));
        assert_eq!(s.user("0123", later), None);
        assert_eq!(
            s.user(token.as_str(), now + Duration::from_secs(3600)),
            None
        );
        let again = s.start("weber", now);
        s.end(again.as_str());
        assert_eq!(s.user(again.as_str(), now), None);
    }

    #[test]
    fn sessions_are_bounded() {
        let mut s = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let first = s.start("a", now);
        for i in 1..=MAX_SESSIONS {
            s.start("a", now + Duration::from_millis(i as u64));
        }
        assert_eq!(s.by_token.len(), MAX_SESSIONS);
        assert_eq!(s.user(first.as_str(), now), None, "the oldest went");
    }
}
