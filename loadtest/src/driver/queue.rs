//! The join as the server's queue holds it (docs/protocol.md, `queued` and `server_busy`),
//! without I/O or a clock of its own: the join loop feeds in what the server said and the time,
//! and asks when to wake and what to do then.
//!
//! - A join has [`JoinWait::deadline`]: the join timeout from the start, moved on by every
//!   `queued`. The server sends one at least every 2 s, so a join that hears nothing for the
//!   whole timeout is stuck, however long the queue; a long wait in a moving queue is not.
//! - While queued the bot pings every [`PING_EVERY`]: the server gives the place of a socket
//!   silent for 6 s away.
//! - `server_busy` with `retry_after_secs` is followed by the server closing the socket; the
//!   bot then joins again after [`retry_delay`], as the page does.

use std::time::{Duration, Instant};

/// How often a queued bot pings. The server pings a waiting socket after 2 s of silence and
/// drops it at 6 s; a ping every 2 s keeps it heard with room for a late one.
pub(super) const PING_EVERY: Duration = Duration::from_secs(2);

/// What the join loop does at [`JoinWait::poll_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JoinTimer {
    /// Nothing due yet.
    Idle,
    /// Send `ping`.
    Ping,
    /// The join timed out.
    Expired,
}

/// Where a join stands: its deadline, the next keep-alive, a `server_busy` told.
#[derive(Debug, Clone)]
pub(super) struct JoinWait {
    timeout: Duration,
    deadline: Instant,
    /// Set once `queued` came: the next ping.
    next_ping: Option<Instant>,
    /// What `server_busy` said to wait before joining again.
    busy: Option<Duration>,
}

impl JoinWait {
    /// A join starting at `now` that may stay silent for `timeout`.
    pub(super) fn new(now: Instant, timeout: Duration) -> JoinWait {
        JoinWait {
            timeout,
            deadline: now + timeout,
            next_ping: None,
            busy: None,
        }
    }

    // ---- getters ----

    /// When the join times out unless the server says something first.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    // ---- inputs ----

    /// A `queued` arrived: the queue moves, the deadline with it; pings start.
    pub(super) fn handle_queued(&mut self, now: Instant) {
        self.deadline = now + self.timeout;
        self.next_ping.get_or_insert(now + PING_EVERY);
    }

    /// `server_busy` with `retry_after`: the close that follows is not a failure.
    pub(super) fn handle_busy(&mut self, retry_after: Duration) {
        self.busy = Some(retry_after);
    }

    /// The socket closed. `Some(pause)` if it closed after `server_busy`: join again after
    /// the pause, `draw` (uniform in 0..1) giving its jitter; `None`: the close is a failure.
    pub(super) fn handle_closed(&mut self, draw: f64) -> Option<Duration> {
        self.busy.take().map(|after| retry_delay(after, draw))
    }

    /// A new socket at `now`, after a pause: a new deadline, not queued.
    pub(super) fn restart(&mut self, now: Instant) {
        *self = JoinWait::new(now, self.timeout);
    }

    // ---- outputs ----

    /// When to wake next: a ping due, or the deadline.
    pub(super) fn poll_timeout(&self) -> Instant {
        self.next_ping
            .map_or(self.deadline, |p| p.min(self.deadline))
    }

    /// What is due at `now`; a ping due is moved on by [`PING_EVERY`].
    pub(super) fn handle_timeout(&mut self, now: Instant) -> JoinTimer {
        if now >= self.deadline {
            return JoinTimer::Expired;
        }
        match self.next_ping {
            Some(at) if now >= at => {
                self.next_ping = Some(now + PING_EVERY);
                JoinTimer::Ping
            }
            _ => JoinTimer::Idle,
        }
    }
}

/// The pause before joining again after `server_busy` said `retry_after`: between half and
/// one and a half times it, by `draw` (0..1), as the web client does (call.js), so a school's
/// pages refused at once do not all come back at once.
pub(crate) fn retry_delay(retry_after: Duration, draw: f64) -> Duration {
    retry_after.mul_f64(0.5 + draw.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn a_join_nobody_answers_times_out() {
        let t0 = Instant::now();
        let mut w = JoinWait::new(t0, TIMEOUT);
        assert_eq!(w.poll_timeout(), t0 + TIMEOUT, "no pings before `queued`");
        assert_eq!(
            w.handle_timeout(t0 + Duration::from_secs(9)),
            JoinTimer::Idle
        );
        assert_eq!(w.handle_timeout(t0 + TIMEOUT), JoinTimer::Expired);
    }

    #[test]
    fn a_moving_queue_keeps_the_join_alive_and_pinging() {
        let t0 = Instant::now();
        let mut w = JoinWait::new(t0, TIMEOUT);
        // A minute in the queue, `queued` every 2 s, pings every 2 s.
        let mut pings = 0;
        let mut now = t0;
        for step in 1..=60 {
            now = t0 + Duration::from_secs(step);
            if step % 2 == 0 {
                w.handle_queued(now);
            }
            while w.poll_timeout() <= now {
                match w.handle_timeout(now) {
                    JoinTimer::Ping => pings += 1,
                    other => panic!("{other:?} at {step} s"),
                }
            }
        }
        assert_eq!(w.poll_timeout(), now + PING_EVERY);
        assert_eq!(pings, 29, "one every 2 s after the first `queued`");
        assert_eq!(w.deadline(), now + TIMEOUT);
        // The queue stops talking: the join times out a timeout after its last word.
        let silent = now + TIMEOUT;
        assert_eq!(w.handle_timeout(silent), JoinTimer::Expired);
    }

    #[test]
    fn only_a_close_after_server_busy_is_retried_with_jitter() {
        let t0 = Instant::now();
        let mut w = JoinWait::new(t0, TIMEOUT);
        assert_eq!(w.handle_closed(0.5), None, "a plain close is a failure");
        w.handle_queued(t0);
        w.handle_busy(Duration::from_secs(10));
        assert_eq!(w.handle_closed(0.0), Some(Duration::from_secs(5)));
        assert_eq!(w.handle_closed(0.0), None, "told once, retried once");
        let later = t0 + Duration::from_secs(12);
        w.restart(later);
        assert_eq!(
            w.poll_timeout(),
            later + TIMEOUT,
            "a new socket is not queued"
        );
    }

    #[test]
    fn the_retry_pause_is_half_to_one_and_a_half_times_what_was_said() {
        let after = Duration::from_secs(10);
        assert_eq!(retry_delay(after, 0.0), Duration::from_secs(5));
        assert_eq!(retry_delay(after, 0.5), Duration::from_secs(10));
        assert_eq!(retry_delay(after, 1.0), Duration::from_secs(15));
        assert_eq!(retry_delay(after, 7.0), Duration::from_secs(15), "clamped");
    }
}
