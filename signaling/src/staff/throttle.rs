//! Failed sign-ins, counted per account name and per address over a sliding window: past the
//! limit, further tries are refused before any password is checked, until the oldest failure
//! falls out of the window. Sans-IO: time comes in as `now`.
//!
//! Both keys, because a guesser either tries many passwords for one teacher (the name limit)
//! or one password for many teachers (the address limit). Locking a name lets a stranger keep
//! a teacher out for a quarter of an hour at most; the teacher's colleagues can still start
//! the class.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per account name in the window: a teacher mistypes a few times, not ten.
pub const PER_NAME: usize = 10;
/// Failures per address in the window. A school's NAT puts the whole staff behind one
/// address; 50 is every teacher of a large school mistyping once in the same quarter hour.
pub const PER_ADDRESS: usize = 50;
/// Names and addresses remembered at most, each: a guesser cycling through made-up names
/// cannot grow this without bound (expired entries go first; beyond, new keys are not kept,
/// and the address limit still holds).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Throttle {
    names: Failures<String>,
    addresses: Failures<IpAddr>,
}

impl Throttle {
    /// `Err(wait)` if a sign-in as `name` from `addr` must not be tried now.
    pub fn check(&mut self, name: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let by_name = self.names.wait(&key(name), PER_NAME, now);
        let by_addr = self.addresses.wait(&addr, PER_ADDRESS, now);
        match by_name.max(by_addr) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn handle_failure(&mut self, name: &str, addr: IpAddr, now: Instant) {
        self.names.record(key(name), PER_NAME, now);
        self.addresses.record(addr, PER_ADDRESS, now);
    }

    /// A right password clears the name's failures (not the address's: a guesser who knows
    /// one password must not reset the count for the others).
    pub fn handle_success(&mut self, name: &str) {
        self.names.0.remove(&key(name));
    }
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[derive(Debug)]
struct Failures<K>(HashMap<K, VecDeque<Instant>>);

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Failures(HashMap::new())
    }
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn wait(&mut self, key: &K, limit: usize, now: Instant) -> Option<Duration> {
        let times = self.0.get_mut(key)?;
        expire(times, now);
        if times.len() < limit {
            return None;
        }
        let oldest = *times.front().expect("at the limit, so not empty");
        Some(
            (oldest + WINDOW)
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    fn record(&mut self, key: K, limit: usize, now: Instant) {
        if !self.0.contains_key(&key) && self.0.len() >= MAX_KEYS {
            self.0.retain(|_, times| {
                expire(times, now);
                !times.is_empty()
            });
            if self.0.len() >= MAX_KEYS {
                return;
            }
        }
        let times = self.0.entry(key).or_default();
        expire(times, now);
        times.push_back(now);
        // The oldest of `limit` is all `wait` needs.
        while times.len() > limit {
            times.pop_front();
        }
    }
}

fn expire(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn ten_wrong_passwords_lock_the_name_until_the_first_is_old() {
        let mut t = Throttle::default();
        let start = Instant::now();
        for i in 0..PER_NAME {
            assert!(t.check("Weber", HOME, start).is_ok(), "try {i}");
            t.handle_failure("weber", HOME, start + Duration::from_secs(i as u64));
        }
        let now = start + Duration::from_secs(60);
        let wait = t.check("WEBER", OTHER, now).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60), "from any address");
        assert!(
            t.check("mueller", HOME, now).is_ok(),
            "other names are fine"
        );
        assert!(
            t.check("weber", HOME, start + WINDOW).is_ok(),
            "the first one aged out"
        );
    }

    #[test]
    fn one_address_trying_many_names_is_stopped_and_success_clears_only_the_name() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            t.handle_failure(&format!("teacher{i}"), HOME, now);
        }
        assert!(t.check("someone", HOME, now).is_err());
        assert!(t.check("someone", OTHER, now).is_ok());
        t.handle_failure("weber", OTHER, now);
        t.handle_success("weber");
        assert!(!t.names.0.contains_key("weber"));
        assert_eq!(t.addresses.0[&OTHER].len(), 1);
    }

    #[test]
    fn made_up_names_do_not_grow_memory_without_bound() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..MAX_KEYS + 500 {
            t.handle_failure(&format!("n{i}"), OTHER, now);
        }
        assert_eq!(t.names.0.len(), MAX_KEYS);
        assert_eq!(
            t.addresses.0[&OTHER].len(),
            PER_ADDRESS,
            "kept to the limit"
        );
        t.handle_failure("late", OTHER, now + WINDOW);
        assert_eq!(t.names.0.len(), 1, "expired ones made room");
    }
}
