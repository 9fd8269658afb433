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
/// cannot grow this without bound. Expired entries go first; beyond, one with the fewest
/// failures (the oldest of those) makes room: a spray of new names evicts its own, not the
/// count of a teacher's name that is being guessed at.
const MAX_KEYS: usize = 10_000;
/// Characters of a name that count as its key: a name longer than any real one is not kept
/// whole (`Staff::sign_in` refuses those before any check).
const NAME_KEY_CHARS: usize = 128;

#[derive(Debug, Default)]
pub struct Throttle {
    names: Failures<String>,
    addresses: Failures<IpAddr>,
}

/// A sign-in under way: counted as a failure from the start, so that tries sent at the same
/// time are each counted before the next is let through; given back if it was not one.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    at: Instant,
}

impl Throttle {
    /// `Err(wait)` if a sign-in as `name` from `addr` must not be tried now; else the try,
    /// counted already. `addr` is the address's key (`Addresses::key`: IPv6 by its /64),
    /// `None` for an address not limited (loopback, `exempt_networks`: a school's NAT puts
    /// its whole staff behind one; the per-name limit still holds there).
    pub fn check(
        &mut self,
        name: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let name = key(name);
        let by_name = self.names.wait(&name, PER_NAME, now);
        let by_addr = addr.and_then(|a| self.addresses.wait(&a, PER_ADDRESS, now));
        if let Some(wait) = by_name.max(by_addr) {
            return Err(wait);
        }
        self.names.record(name, PER_NAME, now);
        if let Some(a) = addr {
            self.addresses.record(a, PER_ADDRESS, now);
        }
        Ok(Attempt { at: now })
    }

    /// A right password clears the name's failures, and gives back the address's count for
    /// this try (not the others: a guesser who knows one password must not reset the count
    /// for the rest).
    pub fn handle_success(&mut self, name: &str, addr: Option<IpAddr>, attempt: Attempt) {
        self.names.0.remove(&key(name));
        if let Some(a) = addr {
            self.addresses.forget(&a, attempt.at);
        }
    }

    /// A try that could not be judged (the directory was unavailable): not a failure.
    pub fn handle_undecided(&mut self, name: &str, addr: Option<IpAddr>, attempt: Attempt) {
        self.names.forget(&key(name), attempt.at);
        if let Some(a) = addr {
            self.addresses.forget(&a, attempt.at);
        }
    }
}

fn key(name: &str) -> String {
    name.trim()
        .chars()
        .take(NAME_KEY_CHARS)
        .collect::<String>()
        .to_lowercase()
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
                let least = (self.0.iter())
                    .min_by_key(|(_, times)| (times.len(), times.back().copied()))
                    .map(|(k, _)| k.clone());
                if let Some(k) = least {
                    self.0.remove(&k);
                }
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

    /// Takes back the try counted at `at`, if it is still counted.
    fn forget(&mut self, key: &K, at: Instant) {
        let Some(times) = self.0.get_mut(key) else {
            return;
        };
        if let Some(i) = times.iter().rposition(|t| *t == at) {
            times.remove(i);
        }
        if times.is_empty() {
            self.0.remove(key);
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
            let at = start + Duration::from_secs(i as u64);
            assert!(t.check("Weber", Some(HOME), at).is_ok(), "try {i}");
        }
        let now = start + Duration::from_secs(60);
        let wait = t.check("WEBER", Some(OTHER), now).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60), "from any address");
        assert!(
            t.check("mueller", Some(HOME), now).is_ok(),
            "other names are fine"
        );
        assert!(
            t.check("weber", Some(HOME), start + WINDOW).is_ok(),
            "the first one aged out"
        );
    }

    #[test]
    fn tries_at_the_same_time_are_each_counted_before_any_ends() {
        let mut t = Throttle::default();
        let now = Instant::now();
        let tries: Vec<_> = (0..PER_NAME)
            .map(|_| t.check("weber", Some(HOME), now))
            .collect();
        assert!(tries.iter().all(Result::is_ok));
        assert!(
            t.check("weber", Some(OTHER), now).is_err(),
            "the eleventh waits"
        );
    }

    #[test]
    fn one_address_trying_many_names_is_stopped_and_success_gives_back_only_its_own_try() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            assert!(t.check(&format!("teacher{i}"), Some(HOME), now).is_ok());
        }
        assert!(t.check("someone", Some(HOME), now).is_err());
        assert!(t.check("someone", Some(OTHER), now).is_ok());
        let attempt = t.check("weber", Some(OTHER), now).unwrap();
        t.handle_success("weber", Some(OTHER), attempt);
        assert!(!t.names.0.contains_key("weber"));
        assert_eq!(t.addresses.0[&OTHER].len(), 1, "someone's try still counts");
        let attempt = t.check("weber", Some(OTHER), now).unwrap();
        t.handle_undecided("weber", Some(OTHER), attempt);
        assert!(!t.names.0.contains_key("weber"), "the directory was down");
        assert_eq!(t.addresses.0[&OTHER].len(), 1);
    }

    #[test]
    fn an_address_not_limited_still_has_each_name_limited() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS * 2 {
            assert!(t.check(&format!("teacher{i}"), None, now).is_ok());
        }
        for _ in 0..PER_NAME {
            assert!(t.check("weber", None, now).is_ok());
        }
        assert!(t.check("weber", None, now).is_err());
        assert!(t.addresses.0.is_empty());
    }

    #[test]
    fn made_up_names_do_not_grow_memory_nor_push_out_a_guessed_name() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for _ in 0..PER_NAME {
            assert!(t.check("weber", None, now).is_ok());
        }
        for i in 0..MAX_KEYS + 500 {
            let _ = t.check(&format!("n{i}"), None, now);
        }
        assert_eq!(t.names.0.len(), MAX_KEYS);
        assert!(t.check("weber", None, now).is_err(), "still locked");
        let long = "x".repeat(100_000);
        let _ = t.check(&long, Some(OTHER), now + WINDOW);
        assert!(
            t.names
                .0
                .keys()
                .all(|k| k.chars().count() <= NAME_KEY_CHARS)
        );
        assert_eq!(t.names.0.len(), 1, "expired ones made room");
    }
}
