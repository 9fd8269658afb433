//! RTP timestamp continuity for one down track.
//!
//! A subscriber's stream must look like one unbroken stream even when the publisher behind it
//! restarts (a new publish connection after a network change starts from a new random RTP
//! timestamp). str0m keeps the down track's SSRC and sequence numbers continuous by itself; this
//! maps the publisher's media time onto the down track's media time so timestamps continue too.

use std::time::Instant;

/// Maps publisher media time (in clock-rate ticks) to down-track media time.
#[derive(Debug, Default)]
pub struct TimestampMapper {
    /// Added to the publisher's time; changes only when the source changes.
    offset: i64,
    /// The source (an up track incarnation) the offset was computed for.
    generation: Option<u64>,
    /// Last time written to the down track, and when, to bridge the gap on a switch.
    last: Option<(u64, Instant)>,
}

impl TimestampMapper {
    /// Down-track time for a frame with publisher time `input` (ticks at `clock_rate` Hz) that
    /// arrived at `arrival` from the source `generation` (an up track incarnation).
    pub fn map(&mut self, input: u64, clock_rate: u32, arrival: Instant, generation: u64) -> u64 {
        if self.generation != Some(generation) {
            self.rebase(input, clock_rate, arrival);
            self.generation = Some(generation);
        }
        let output = (input as i64).wrapping_add(self.offset).max(0) as u64;
        self.last = Some((output, arrival));
        output
    }

    fn rebase(&mut self, input: u64, clock_rate: u32, arrival: Instant) {
        let Some((last_out, last_at)) = self.last else {
            // The first source passes through unchanged.
            self.offset = 0;
            return;
        };
        let gap = arrival.saturating_duration_since(last_at);
        let gap_ticks = (gap.as_micros() as u64).saturating_mul(clock_rate as u64) / 1_000_000;
        // At least one tick forward, so the new source never repeats or goes back in time.
        let expected = last_out + gap_ticks.max(1);
        self.offset = expected as i64 - input as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn first_source_passes_through() {
        let t0 = Instant::now();
        let mut m = TimestampMapper::default();
        assert_eq!(m.map(1000, 90_000, t0, 0), 1000);
        assert_eq!(m.map(4000, 90_000, t0 + Duration::from_millis(33), 0), 4000);
    }

    #[test]
    fn publisher_restart_continues_from_wallclock_gap() {
        let t0 = Instant::now();
        let mut m = TimestampMapper::default();
        m.map(90_000, 90_000, t0, 0);
        // The publisher reconnects 500 ms later with a random, much smaller timestamp.
        let out = m.map(17, 90_000, t0 + Duration::from_millis(500), 1);
        assert_eq!(out, 90_000 + 45_000);
        // Later frames of the new source keep their spacing.
        let next = m.map(17 + 3000, 90_000, t0 + Duration::from_millis(533), 1);
        assert_eq!(next, out + 3000);
    }

    #[test]
    fn restart_with_larger_timestamp_also_continues() {
        let t0 = Instant::now();
        let mut m = TimestampMapper::default();
        m.map(48_000, 48_000, t0, 3);
        let out = m.map(4_000_000_000, 48_000, t0 + Duration::from_millis(20), 4);
        assert_eq!(out, 48_000 + 960);
    }

    #[test]
    fn simultaneous_switch_still_moves_forward() {
        let t0 = Instant::now();
        let mut m = TimestampMapper::default();
        m.map(500, 90_000, t0, 0);
        assert_eq!(m.map(10, 90_000, t0, 1), 501);
    }
}
