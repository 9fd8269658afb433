//! A token bucket: `burst` actions at once, then one per `every`. Used for what a client may ask
//! of the SFU in a loop (ICE restarts), so a broken or hostile client costs a bounded amount.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: u32,
    every: Duration,
    tokens: u32,
    /// When the last token was added (or the bucket was first used).
    refilled: Option<Instant>,
}

impl TokenBucket {
    pub fn new(burst: u32, every: Duration) -> TokenBucket {
        TokenBucket {
            burst,
            every,
            tokens: burst,
            refilled: None,
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    fn refill(&mut self, now: Instant) {
        let Some(last) = self.refilled else {
            self.refilled = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(last);
        let earned = (elapsed.as_nanos() / self.every.as_nanos().max(1)) as u32;
        if earned == 0 {
            return;
        }
        self.tokens = self.tokens.saturating_add(earned).min(self.burst);
        self.refilled = Some(last + self.every * earned);
        if self.tokens == self.burst {
            self.refilled = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let t0 = Instant::now();
        let every = Duration::from_secs(5);
        let mut b = TokenBucket::new(3, every);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_secs(4)));
        assert!(b.try_take(t0 + every));
        assert!(!b.try_take(t0 + every));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| b.try_take(later)));
        assert!(!b.try_take(later));
    }

    #[test]
    fn a_loop_gets_one_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, Duration::from_secs(5));
        let granted = (0..60_000)
            .filter(|i| b.try_take(t0 + Duration::from_millis(*i)))
            .count();
        // 3 at once, then one every 5 s of the 60 s.
        assert_eq!(granted, 3 + 11);
    }
}
