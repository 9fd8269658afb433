//! The join queue itself: who waits, in which order, and how long the wait may be. Pure data
//! with the time passed in, so its order, bounds and estimates are tested in simulated time.
//!
//! Three lanes, served in order: hosts (a class cannot start without its teacher), then people
//! resuming a session (they were in the lesson a moment ago), then new joins; first come,
//! first served within each. The queue has a bound, and so has every address: one machine
//! cannot hold the places of a class. A place may carry a key (the page's session, or its
//! resume token): a page that reconnects while it waits takes its own place back instead of
//! queueing again at the end, and cannot hold two.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Who is asking to come in, in the order they are let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Host,
    Resume,
    New,
}

impl Class {
    pub(crate) const ALL: [Class; 3] = [Class::Host, Class::Resume, Class::New];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Class::Host => "host",
            Class::Resume => "resume",
            Class::New => "new",
        }
    }

    fn lane(self) -> usize {
        self as usize
    }
}

/// A place in the queue (one per waiting socket).
pub(crate) type Ticket = u64;

/// Why a join could not even wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds as many as it may.
    Full,
    /// This address already holds as many places as one address may.
    Address,
}

impl Refused {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refused::Full => "queue_full",
            Refused::Address => "address",
        }
    }
}

#[derive(Debug, Clone)]
struct Place {
    ticket: Ticket,
    key: Option<String>,
    addr: IpAddr,
    room: String,
    since: Instant,
}

/// Admissions over this window give the rate the queue moves at.
const RATE_WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct Queue {
    lanes: [VecDeque<Place>; 3],
    per_addr: HashMap<IpAddr, usize>,
    bound: usize,
    addr_bound: usize,
    /// When the latest admissions from the queue happened, for the wait estimate.
    admitted: VecDeque<Instant>,
}

impl Queue {
    pub(crate) fn new(bound: usize, addr_bound: usize) -> Queue {
        Queue {
            lanes: Default::default(),
            per_addr: HashMap::new(),
            bound,
            addr_bound,
            admitted: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `ticket` at the end of its class's lane; its position (1 = next). With a `key`
    /// some place already holds, `ticket` takes that place instead, and the ticket it had is
    /// returned (its socket is stale).
    pub(crate) fn push(
        &mut self,
        ticket: Ticket,
        class: Class,
        key: Option<&str>,
        addr: IpAddr,
        room: &str,
        now: Instant,
    ) -> Result<(usize, Option<Ticket>), Refused> {
        if let Some(key) = key {
            let held = self
                .lanes
                .iter_mut()
                .flatten()
                .find(|p| p.key.as_deref() == Some(key) && p.room == room);
            if let Some(place) = held {
                let stale = std::mem::replace(&mut place.ticket, ticket);
                let old_addr = std::mem::replace(&mut place.addr, addr);
                self.forget_addr(old_addr);
                *self.per_addr.entry(addr).or_default() += 1;
                let position = self.position(ticket).expect("just taken");
                return Ok((position, Some(stale)));
            }
        }
        if self.len() >= self.bound {
            return Err(Refused::Full);
        }
        let from_addr = self.per_addr.entry(addr).or_default();
        if *from_addr >= self.addr_bound {
            return Err(Refused::Address);
        }
        *from_addr += 1;
        self.lanes[class.lane()].push_back(Place {
            ticket,
            key: key.map(str::to_string),
            addr,
            room: room.to_string(),
            since: now,
        });
        Ok((self.position(ticket).expect("just queued"), None))
    }

    /// Takes out the place that `key` holds for `room`, if one does: its ticket.
    pub(crate) fn take_keyed(&mut self, key: &str, room: &str) -> Option<Ticket> {
        for lane in &mut self.lanes {
            let found = lane
                .iter()
                .position(|p| p.key.as_deref() == Some(key) && p.room == room);
            if let Some(i) = found {
                let place = lane.remove(i).expect("found");
                self.forget_addr(place.addr);
                return Some(place.ticket);
            }
        }
        None
    }

    /// Takes `ticket` out of the queue (its socket left); whether it was there.
    pub(crate) fn remove(&mut self, ticket: Ticket) -> bool {
        for lane in &mut self.lanes {
            if let Some(i) = lane.iter().position(|p| p.ticket == ticket) {
                let place = lane.remove(i).expect("found");
                self.forget_addr(place.addr);
                return true;
            }
        }
        false
    }

    /// The next to let in, its class, and how long it waited.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<(Ticket, Class, Duration)> {
        let (lane, place) = self
            .lanes
            .iter_mut()
            .enumerate()
            .find_map(|(i, lane)| lane.pop_front().map(|p| (i, p)))?;
        self.forget_addr(place.addr);
        self.admitted.push_back(now);
        self.trim(now);
        let waited = now.saturating_duration_since(place.since);
        Some((place.ticket, Class::ALL[lane], waited))
    }

    fn forget_addr(&mut self, addr: IpAddr) {
        if let Some(n) = self.per_addr.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.per_addr.remove(&addr);
            }
        }
    }

    fn trim(&mut self, now: Instant) {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.admitted.pop_front();
        }
    }

    /// `ticket`'s place, 1 for the next to be let in.
    pub(crate) fn position(&self, ticket: Ticket) -> Option<usize> {
        let mut ahead = 0;
        for lane in &self.lanes {
            if let Some(i) = lane.iter().position(|p| p.ticket == ticket) {
                return Some(ahead + i + 1);
            }
            ahead += lane.len();
        }
        None
    }

    /// Every waiting ticket with its position, in order.
    pub(crate) fn positions(&self) -> impl Iterator<Item = (Ticket, usize)> + '_ {
        self.lanes
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, p)| (p.ticket, i + 1))
    }

    /// How many wait to enter `room`.
    pub(crate) fn waiting_for(&self, room: &str) -> usize {
        self.lanes
            .iter()
            .flatten()
            .filter(|p| p.room == room)
            .count()
    }

    /// Rooms with people waiting, and how many.
    pub(crate) fn rooms(&self) -> HashMap<&str, usize> {
        let mut rooms = HashMap::new();
        for p in self.lanes.iter().flatten() {
            *rooms.entry(p.room.as_str()).or_default() += 1;
        }
        rooms
    }

    /// About how long the one at `position` still waits, from the rate the queue moved at
    /// lately; `None` when it has not moved in the last 30 s (nobody can say).
    pub(crate) fn estimate(&mut self, position: usize, now: Instant) -> Option<Duration> {
        self.trim(now);
        let first = *self.admitted.front()?;
        let span = now
            .saturating_duration_since(first)
            .max(Duration::from_secs(2));
        let per_sec = self.admitted.len() as f64 / span.as_secs_f64();
        Some(Duration::from_secs_f64(position as f64 / per_sec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn addr(i: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i))
    }

    #[test]
    fn hosts_first_then_resumes_then_new_joins_each_in_arrival_order() {
        let now = Instant::now();
        let mut q = Queue::new(100, 10);
        q.push(1, Class::New, None, addr(1), "r", now).unwrap();
        q.push(2, Class::Resume, None, addr(2), "r", now).unwrap();
        q.push(3, Class::New, None, addr(3), "r", now).unwrap();
        assert_eq!(
            q.push(4, Class::Host, None, addr(4), "r", now),
            Ok((1, None))
        );
        q.push(5, Class::Resume, None, addr(5), "r", now).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop(now).map(|(t, _, _)| t)).collect();
        assert_eq!(order, [4, 2, 5, 1, 3]);
        assert!(q.is_empty());
    }

    #[test]
    fn positions_move_up_as_others_go_in_or_leave() {
        let t0 = Instant::now();
        let mut q = Queue::new(100, 10);
        for t in 1..=4 {
            q.push(t, Class::New, None, addr(t as u8), "r", t0).unwrap();
        }
        assert_eq!(q.position(4), Some(4));
        assert!(q.remove(2), "a page closed");
        assert_eq!(q.position(4), Some(3));
        assert!(!q.remove(2), "gone already");
        let popped = q.pop(t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(popped, (1, Class::New, Duration::from_secs(3)));
        assert_eq!(q.position(4), Some(2));
        // A resume arriving now goes ahead of everyone new.
        assert_eq!(
            q.push(9, Class::Resume, None, addr(9), "r", t0),
            Ok((1, None))
        );
        assert_eq!(q.position(4), Some(3));
        let listed: Vec<_> = q.positions().collect();
        assert_eq!(listed, [(9, 1), (3, 2), (4, 3)]);
    }

    #[test]
    fn the_queue_and_each_address_are_bounded_and_places_come_back() {
        let now = Instant::now();
        let mut q = Queue::new(5, 2);
        assert!(q.push(1, Class::New, None, A, "r", now).is_ok());
        assert!(q.push(2, Class::New, None, A, "r", now).is_ok());
        assert_eq!(
            q.push(3, Class::Host, None, A, "r", now),
            Err(Refused::Address)
        );
        for t in 4..7 {
            q.push(t, Class::New, None, addr(t as u8), "r", now)
                .unwrap();
        }
        assert_eq!(
            q.push(7, Class::New, None, addr(7), "r", now),
            Err(Refused::Full)
        );
        assert_eq!(q.len(), 5);
        q.remove(1);
        assert!(
            q.push(3, Class::New, None, A, "r", now).is_ok(),
            "A's place freed"
        );
        q.pop(now);
        q.pop(now);
        assert!(q.push(8, Class::New, None, A, "r", now).is_ok());
    }

    #[test]
    fn the_wait_is_estimated_from_the_rate_the_queue_moves() {
        let t0 = Instant::now();
        let mut q = Queue::new(1000, 1000);
        for t in 0..100 {
            q.push(t, Class::New, None, addr(1), "r", t0).unwrap();
        }
        assert_eq!(q.estimate(10, t0), None, "nobody let in yet: unknown");
        // Two a second for ten seconds.
        for i in 0..20 {
            q.pop(t0 + Duration::from_millis(500 * i));
        }
        let now = t0 + Duration::from_secs(10);
        let wait = q.estimate(10, now).unwrap();
        assert!(
            (4.5..=5.6).contains(&wait.as_secs_f64()),
            "10 places at 2/s: {wait:?}"
        );
        // The queue stops moving: after 30 s nobody can say.
        assert_eq!(q.estimate(10, now + Duration::from_secs(31)), None);
    }

    #[test]
    fn a_page_that_reconnects_while_it_waits_keeps_its_place() {
        let now = Instant::now();
        let mut q = Queue::new(100, 10);
        q.push(1, Class::New, Some("s1"), addr(1), "r", now)
            .unwrap();
        q.push(2, Class::New, Some("s2"), addr(2), "r", now)
            .unwrap();
        q.push(3, Class::New, None, addr(3), "r", now).unwrap();
        // Page s2 reloads: its new socket (ticket 4) takes place 2; ticket 2 is stale.
        assert_eq!(
            q.push(4, Class::New, Some("s2"), addr(2), "r", now),
            Ok((2, Some(2)))
        );
        assert_eq!(q.len(), 3, "still one place for s2");
        assert_eq!(q.position(2), None);
        // The same key for another room is another place.
        assert_eq!(
            q.push(5, Class::New, Some("s2"), addr(2), "other", now),
            Ok((4, None))
        );
    }

    #[test]
    fn waiting_is_counted_per_room() {
        let now = Instant::now();
        let mut q = Queue::new(100, 10);
        q.push(1, Class::New, None, addr(1), "a", now).unwrap();
        q.push(2, Class::New, None, addr(2), "b", now).unwrap();
        q.push(3, Class::Resume, None, addr(3), "a", now).unwrap();
        assert_eq!(q.waiting_for("a"), 2);
        assert_eq!(q.rooms().get("b"), Some(&1));
        q.remove(2);
        assert_eq!(q.rooms().get("b"), None);
    }
}
