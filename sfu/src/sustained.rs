//! What a subscriber's link has sustained: the lowest of its send-side estimate over the last
//! seconds. A decision that takes a layer from one video to raise another
//! (crate::allocate::Allocation::takes_from_others) is made again on it (crate::room::adapt).
//!
//! GCC's estimate is a saw-tooth on a full link: it climbs some 8 % a second while padding
//! fills the link, then an overuse drops it to 85 % of what was acknowledged. On the impair
//! run's 1 Mbit/s link it swung between 0.9 and 1.2 Mbit/s every five to ten seconds. A
//! decision made at a peak did not outlast the next trough: the teacher's 360p layer, raised
//! at 1.1-1.2 Mbit/s, paused three to five of the student's thumbnails to fit, and at the next
//! trough did not fit even alone, so she was lowered again and the thumbnails came back (the
//! shaped student's cameras were paused 34-57 times in 100 s). Judged on the trough of the
//! last [`LOOKBACK`], that decision is not made. Other raises, keeping a layer and lowering
//! one are still decided on the estimate as it stands. The cost is on a link that opens up: a
//! raise that takes from others waits until the trough from before has left the last
//! [`LOOKBACK`] (in the simulated climb from 1 to 2.5 Mbit/s, the teacher's 720p layer, which
//! her students' thumbnails make way for, came 13-18.5 s after the rise rather than 10.5-12).
//! Judging a paused thumbnail's return on the trough too, tried, held the thumbnails back for
//! ten seconds after the impair run's rise from 0.6 to 1 Mbit/s (media utilization 0.68-0.72
//! there, three runs).
//!
//! Pure and sans-IO: the caller says what time it is.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the trough is looked for: longer than one swing of GCC's saw-tooth on a full
/// link (five to ten seconds in the impair run), so a peak is judged against the trough
/// before it.
pub const LOOKBACK: Duration = Duration::from_secs(10);

/// Estimates this close together are kept as one, their lowest: the allocator decides twice
/// a second, and more often after a fall or a page's change, so at most some forty are kept
/// however often it is asked.
const BUCKET: Duration = Duration::from_millis(250);

/// A subscriber's recent estimates, for their trough (or any other values': its link's
/// one-way delays, for their least, crate::room::adapt).
#[derive(Debug)]
pub struct Sustained<T = u64> {
    /// Per [`BUCKET`], oldest first: when it began, and the lowest value in it.
    seen: VecDeque<(Instant, T)>,
}

impl<T> Default for Sustained<T> {
    fn default() -> Self {
        Sustained {
            seen: VecDeque::new(),
        }
    }
}

impl<T: Copy + Ord> Sustained<T> {
    /// The estimate stands at `estimate` at `now`.
    pub fn handle_estimate(&mut self, now: Instant, estimate: T) {
        match self.seen.back_mut() {
            Some((at, low)) if now < *at + BUCKET => *low = (*low).min(estimate),
            _ => self.seen.push_back((now, estimate)),
        }
        while (self.seen.front()).is_some_and(|(t, _)| *t + LOOKBACK < now) {
            self.seen.pop_front();
        }
    }

    /// The lowest estimate seen in the last [`LOOKBACK`] (`None`: none seen).
    pub fn low(&self, now: Instant) -> Option<T> {
        (self.seen.iter())
            .filter(|(t, _)| *t + LOOKBACK >= now)
            .map(|(_, e)| *e)
            .min()
    }

    /// Forgets what was seen: a new path, or an estimate started again.
    pub fn reset(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn the_low_is_the_trough_of_the_last_seconds() {
        let t0 = Instant::now();
        let mut s = Sustained::default();
        assert_eq!(s.low(t0), None);
        // A saw-tooth: 900 kbit/s, climbing to 1.2 Mbit/s.
        for (i, e) in [900_000, 980_000, 1_060_000, 1_150_000, 1_200_000]
            .into_iter()
            .enumerate()
        {
            s.handle_estimate(at(t0, 1_000 * i as u64), e);
        }
        assert_eq!(s.low(at(t0, 4_000)), Some(900_000));
        // A fall within the same quarter second as a higher estimate counts.
        s.handle_estimate(at(t0, 4_100), 850_000);
        assert_eq!(s.low(at(t0, 4_100)), Some(850_000));
    }

    #[test]
    fn a_trough_older_than_the_lookback_no_longer_counts() {
        let t0 = Instant::now();
        let mut s = Sustained::default();
        s.handle_estimate(t0, 600_000);
        s.handle_estimate(at(t0, 5_000), 2_000_000);
        let after = LOOKBACK.as_millis() as u64 + 1;
        assert_eq!(s.low(at(t0, after)), Some(2_000_000));
        s.handle_estimate(at(t0, after + 500), 2_400_000);
        assert_eq!(s.low(at(t0, after + 500)), Some(2_000_000));
    }

    #[test]
    fn it_keeps_a_bounded_number_of_estimates() {
        let t0 = Instant::now();
        let mut s = Sustained::default();
        // An estimate every 10 ms for a minute: a few dozen kept, the trough still found.
        for i in 0..6_000u64 {
            s.handle_estimate(at(t0, 10 * i), 1_000_000 + i % 400);
        }
        let most = (LOOKBACK.as_millis() / BUCKET.as_millis()) as usize + 1;
        assert!(s.seen.len() <= most, "{} kept", s.seen.len());
        assert_eq!(s.low(at(t0, 59_990)), Some(1_000_000));
    }

    #[test]
    fn reset_forgets_the_trough() {
        let t0 = Instant::now();
        let mut s = Sustained::default();
        s.handle_estimate(t0, 300_000);
        s.reset();
        s.handle_estimate(at(t0, 100), 1_000_000);
        assert_eq!(s.low(at(t0, 100)), Some(1_000_000));
    }
}
