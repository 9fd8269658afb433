//! One WebSocket session's message budget: every frame a client sends, of any type, parsed or
//! not, spends from it. Chat, `view` and ICE restarts have limits of their own, argued from
//! what each is for; this one is the floor under all of them, so that no message type (a
//! `candidate`, a host's `admit`, an unknown `type`, a frame that is not even JSON) can be sent
//! as fast as a script can write.
//!
//! Sans-IO: [`Budget::handle_message`] takes the time and says what to do with the frame.
//! Beyond the budget a frame is dropped unread, and the client hears `rate_limited` at most
//! once per [`TELL_EVERY`]; a client that goes on far beyond it (dropped frames faster than
//! [`FLOOD_DRAIN`] a second, [`FLOOD`] of them) is no page, and its socket is closed.

use std::time::Duration;

use tokio::time::Instant;

use crate::room::RateLimit;

/// Frames a session may send at once. A page's busiest moment is its join: `join`,
/// `publish`, `media_state`, `view`, `subscribe_answer`, and the ICE candidates of its two
/// connections, which Chromium sends one message each: a UDP and a TCP host candidate per
/// network address, a server-reflexive one per interface, and with TURN a relay candidate per
/// TURN URL. A laptop with Wi-Fi, a dock's Ethernet, a VPN and IPv6 (each with a temporary
/// address) has 6-10 addresses: 20-40 candidates per connection, 80 for both, and an ICE
/// restart after a network change sends a second round. Measured in headless Chromium on
/// loopback (one address, no TURN; web-client/tests/class.test.mjs): a page sends 10-13
/// frames in its first second and 12-19 in its whole lesson. 200 leaves room for the worst
/// laptop twice over.
pub const BURST: f64 = 200.0;
/// Frames a second after the burst. A page in a lesson sends `view` at most 10 a second
/// (its own limit), a chat line a second at the most, a `ping` when media stalls and a
/// `media_state` when someone clicks; 20 is twice what a busy page keeps up.
pub const PER_SECOND: f64 = 20.0;
/// Dropped frames tolerated before the socket is closed (1008): ten times the burst.
pub const FLOOD: f64 = 10.0 * BURST;
/// Dropped frames a second that are forgiven: ten times the sustained rate. A page stuck in
/// a loop at 100 frames a second is throttled (and told so) but stays; a script writing a
/// thousand a second is closed within three seconds, one writing as fast as it can at once.
pub const FLOOD_DRAIN: f64 = 10.0 * PER_SECOND;
/// A client over its budget hears `rate_limited` at most this often, however many frames
/// are dropped: the answers to a flood must not be a flood.
pub const TELL_EVERY: Duration = Duration::from_secs(1);

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget: handle it.
    Handle,
    /// Over the budget: drop it unread; `tell` says whether to answer `rate_limited` now.
    Drop { tell: bool },
    /// Flooding far beyond the budget: close the socket (1008).
    Close,
}

#[derive(Debug)]
pub struct Budget {
    frames: RateLimit,
    /// What is left of [`FLOOD`]: each dropped frame takes one.
    patience: RateLimit,
    told_at: Option<Instant>,
}

impl Budget {
    pub fn new(now: Instant) -> Budget {
        Budget {
            frames: RateLimit::with(now, BURST, Duration::from_secs_f64(1.0 / PER_SECOND)),
            patience: RateLimit::with(now, FLOOD, Duration::from_secs_f64(1.0 / FLOOD_DRAIN)),
            told_at: None,
        }
    }

    /// A frame arrived at `now`.
    pub fn handle_message(&mut self, now: Instant) -> Verdict {
        if self.frames.allow(now) {
            return Verdict::Handle;
        }
        if !self.patience.allow(now) {
            return Verdict::Close;
        }
        let tell = self.told_at.is_none_or(|t| now >= t + TELL_EVERY);
        if tell {
            self.told_at = Some(now);
        }
        Verdict::Drop { tell }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(budget: &mut Budget, now: Instant, n: usize) -> (usize, usize, usize) {
        let (mut handled, mut told, mut dropped) = (0, 0, 0);
        for _ in 0..n {
            match budget.handle_message(now) {
                Verdict::Handle => handled += 1,
                Verdict::Drop { tell } => {
                    dropped += 1;
                    told += usize::from(tell);
                }
                Verdict::Close => panic!("closed after {handled} handled, {dropped} dropped"),
            }
        }
        (handled, told, dropped)
    }

    #[test]
    fn a_join_burst_passes_whole() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert_eq!(count(&mut b, t0, 200), (200, 0, 0));
    }

    #[test]
    fn beyond_the_burst_frames_drop_and_the_client_hears_once_a_second() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        count(&mut b, t0, 200);
        assert_eq!(count(&mut b, t0, 100), (0, 1, 100));
        let later = t0 + Duration::from_millis(500);
        // Half a second earns 10 frames; the next `rate_limited` waits for its second.
        assert_eq!(count(&mut b, later, 20), (10, 0, 10));
        assert_eq!(count(&mut b, t0 + TELL_EVERY, 11), (10, 1, 1));
    }

    #[test]
    fn a_page_at_its_steady_rate_is_never_limited() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        // Its join burst at once, then 15 a second for ten minutes.
        count(&mut b, t0, 200);
        for ms in (100..600_000).step_by(66) {
            let now = t0 + Duration::from_millis(ms);
            assert_eq!(b.handle_message(now), Verdict::Handle, "at {ms} ms");
        }
    }

    #[test]
    fn a_runaway_loop_is_throttled_but_kept() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        // 100 frames a second for ten minutes.
        for ms in (0..600_000).step_by(10) {
            let v = b.handle_message(t0 + Duration::from_millis(ms));
            assert_ne!(v, Verdict::Close, "at {ms} ms");
        }
    }

    #[test]
    fn a_flood_is_closed() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        let sent = (0..10_000)
            .take_while(|_| b.handle_message(t0) != Verdict::Close)
            .count();
        assert_eq!(sent, 2200, "the burst, then ten times as many dropped");
        // At a thousand a second, within three seconds.
        let mut b = Budget::new(t0);
        let closed_at = (0..10_000)
            .find(|ms| b.handle_message(t0 + Duration::from_millis(*ms)) == Verdict::Close)
            .expect("closed");
        assert!((2000..3000).contains(&closed_at), "{closed_at} ms");
    }
}
