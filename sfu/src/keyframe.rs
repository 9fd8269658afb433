//! Rate limiting of keyframe requests (PLI/FIR) towards one publisher's track.
//!
//! Every subscriber that joins or loses packets wants a keyframe, and a class of thirty joining
//! at 8 o'clock would otherwise ask the teacher's encoder for thirty keyframes in a second. The
//! first request goes out at once (a new subscriber should see a picture in well under a
//! second); later ones within the interval are folded into a single request at its end.

use std::time::{Duration, Instant};

/// Minimum spacing of keyframe requests to one publisher track.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Default, Clone)]
pub struct KeyframeLimiter {
    last_sent: Option<Instant>,
    /// A request arrived within the interval and is owed at `last_sent + interval`.
    owed: bool,
}

impl KeyframeLimiter {
    /// Records a wish for a keyframe; returns true if a request should be sent now.
    pub fn handle_request(&mut self, now: Instant) -> bool {
        match self.last_sent {
            Some(last) if now < last + KEYFRAME_REQUEST_INTERVAL => {
                self.owed = true;
                false
            }
            _ => {
                self.last_sent = Some(now);
                self.owed = false;
                true
            }
        }
    }

    /// When an owed request falls due, if one is owed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let last = self.last_sent?;
        self.owed.then_some(last + KEYFRAME_REQUEST_INTERVAL)
    }

    /// Returns true if an owed request is due at `now` (and marks it sent).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(due) if due <= now => {
                self.last_sent = Some(now);
                self.owed = false;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_goes_out_at_once() {
        let mut k = KeyframeLimiter::default();
        assert!(k.handle_request(Instant::now()));
    }

    #[test]
    fn burst_is_folded_into_one_owed_request() {
        let t0 = Instant::now();
        let mut k = KeyframeLimiter::default();
        assert!(k.handle_request(t0));
        for i in 1..30 {
            assert!(!k.handle_request(t0 + Duration::from_millis(i * 10)));
        }
        let due = k.poll_timeout().expect("a request is owed");
        assert_eq!(due, t0 + KEYFRAME_REQUEST_INTERVAL);
        assert!(!k.handle_timeout(due - Duration::from_millis(1)));
        assert!(k.handle_timeout(due));
        assert_eq!(k.poll_timeout(), None, "owed request was paid once");
    }

    #[test]
    fn requests_after_the_interval_go_out_directly() {
        let t0 = Instant::now();
        let mut k = KeyframeLimiter::default();
        assert!(k.handle_request(t0));
        assert!(k.handle_request(t0 + KEYFRAME_REQUEST_INTERVAL));
        assert_eq!(k.poll_timeout(), None);
    }
}
