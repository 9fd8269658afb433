use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp_::Bitrate;

// Aula: a path's first seconds are averaged over the last second *of time*, each value weighted
// by how long it held; after them, as published, the mean of the distinct values of the last
// three seconds, but none from before the first seconds' last one. Published, that mean held a
// probe's result at the start back for up to three seconds: it was averaged with the many small
// steps of the initial guess before it (one entry per change). See vendor/str0m/AULA.md.

/// Time window for averaging estimate changes.
const ESTIMATE_WINDOW: Duration = Duration::from_secs(3);

/// The first seconds from the first estimate: it starts from a guess, which the probes of the
/// first media correct.
const STARTUP: Duration = Duration::from_secs(3);

/// In the first seconds, the estimate is averaged over this much time.
const STARTUP_WINDOW: Duration = Duration::from_secs(1);

/// Between changes, the time-weighted average moves with time alone: look again this often.
const RECOMPUTE_EVERY: Duration = Duration::from_millis(25);

type TimeBitrate = (Instant, Bitrate);

const TOLERANCE: f64 = 0.05;

/// Smooths BWE estimates by averaging over a time window.
pub struct EstimateSmoother {
    /// Each value GCC produced and from when it held. The front entry may have begun before the
    /// window: it is the value that held at the window's start.
    estimates: VecDeque<TimeBitrate>,
    /// When the first estimate came.
    first_at: Option<Instant>,
    /// The latest instant seen.
    now: Option<Instant>,
    /// When the average was last computed.
    computed_at: Option<Instant>,
    maybe_emit: bool,
    emitted: Option<Bitrate>,
}

impl EstimateSmoother {
    pub fn new() -> Self {
        Self {
            estimates: VecDeque::new(),
            first_at: None,
            now: None,
            computed_at: None,
            maybe_emit: false,
            emitted: None,
        }
    }

    /// Record a new estimate and update the smoothed average.
    pub fn record(&mut self, now: Instant, estimate: Bitrate) {
        self.first_at.get_or_insert(now);
        self.now = Some(now);
        if self.estimates.back().map(|b| b.1) != Some(estimate) {
            self.maybe_emit = true;
            self.estimates.push_back((now, estimate));
        }
        let starting = self.first_at.is_some_and(|f| now < f + STARTUP);
        if starting
            && self
                .computed_at
                .is_none_or(|at| now.saturating_duration_since(at) >= RECOMPUTE_EVERY)
        {
            self.maybe_emit = true;
        }

        // Drop the entries that ended before the window began (keeping the last).
        let start = now.checked_sub(ESTIMATE_WINDOW);
        while let (Some(start), Some(next)) = (start, self.estimates.get(1)) {
            if next.0 > start {
                break;
            }
            self.maybe_emit = true;
            self.estimates.pop_front();
        }
    }

    /// The average, and whether it is a single value (the estimate has settled).
    fn average(&self, now: Instant) -> Option<(Bitrate, bool)> {
        let first_at = self.first_at?;
        let last = self.estimates.back()?;
        if now < first_at + STARTUP {
            // Over the last second of time (or since the first value).
            let start = now
                .checked_sub(STARTUP_WINDOW)
                .map_or(first_at, |s| s.max(first_at));
            let span = now.saturating_duration_since(start).as_secs_f64();
            // Each value with the instant it ended (the next one's start, or now), if it held
            // within the window.
            let ends = self.estimates.iter().skip(1).map(|e| e.0).chain([now]);
            let held = self
                .estimates
                .iter()
                .zip(ends)
                .filter(|(_, end)| *end > start);
            let (mut n, mut total) = (0, 0.0);
            for ((from, value), end) in held {
                n += 1;
                let d = end.saturating_duration_since((*from).max(start));
                total += value.as_f64() * d.as_secs_f64();
            }
            if n <= 1 || span <= 0.0 {
                return Some((last.1, n <= 1));
            }
            return Some(((total / span).into(), false));
        }
        // The distinct values of the last three seconds, none from before the first seconds'
        // last one; if none, the latest.
        let floor = first_at + STARTUP - STARTUP_WINDOW;
        let from = now
            .checked_sub(ESTIMATE_WINDOW)
            .map_or(floor, |s| s.max(floor));
        let recent = self.estimates.iter().filter(|(t, _)| *t >= from);
        let (n, total) = recent.fold((0, 0.0), |(n, t), (_, b)| (n + 1, t + b.as_f64()));
        if n <= 1 {
            return Some((last.1, true));
        }
        Some(((total / n as f64).into(), false))
    }

    /// Poll for an estimate to emit. Returns Some only when there's a new value to emit.
    pub fn poll(&mut self) -> Option<Bitrate> {
        if !self.maybe_emit {
            return None;
        }
        self.maybe_emit = false;

        let now = self.now?;
        self.computed_at = Some(now);
        let (rate, single) = self.average(now)?;

        // This forces emitting if we have the first ever value, or a last
        // where the rest of the window is gone (estimates stop changing).
        let settled = single && self.emitted != Some(rate);

        // Emit if we deviate enough from previously emitted.
        let deviate = if let Some(emitted) = self.emitted {
            !in_tolerance(emitted, rate)
        } else {
            true
        };

        // Are we not to emit?
        if !settled && !deviate {
            return None;
        }

        self.emitted = Some(rate);
        Some(rate)
    }
}

fn in_tolerance(b1: Bitrate, b2: Bitrate) -> bool {
    let min = b1 * (1.0 - TOLERANCE);
    let max = b1 * (1.0 + TOLERANCE);
    b2 > min && b2 < max
}

#[cfg(test)]
mod test {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// Every value the smoother emits while `f(ms)` is recorded every 10 ms up to `until`.
    fn run(f: impl Fn(u64) -> u64, until: u64) -> Vec<(u64, u64)> {
        let start = Instant::now();
        let mut s = EstimateSmoother::new();
        let mut out = vec![];
        for ms in (0..=until).step_by(10) {
            s.record(at(start, ms), Bitrate::bps(f(ms)));
            if let Some(r) = s.poll() {
                out.push((ms, r.as_u64()));
            }
        }
        out
    }

    fn last_by(out: &[(u64, u64)], ms: u64) -> u64 {
        out.iter().rev().find(|(t, _)| *t <= ms).unwrap().1
    }

    #[test]
    fn a_probe_at_the_start_is_followed_within_a_second() {
        // The initial guess in small steps (a new value every 10 ms), a probe's result at
        // 300 ms. Published, the mean of the values held it near the guess for seconds.
        let out = run(
            |ms| if ms < 300 { 2_500_000 + ms } else { 15_000_000 },
            5000,
        );
        let early = last_by(&out, 800);
        assert!((9_000_000..=11_000_000).contains(&early), "{out:?}");
        assert_eq!(last_by(&out, 1400), 15_000_000);
        assert!(
            out.iter()
                .filter(|(t, _)| *t >= 1400)
                .all(|(_, r)| *r == 15_000_000)
        );
    }

    #[test]
    fn after_the_start_the_values_of_three_seconds_are_averaged() {
        // Alternating 1 and 2 Mbit/s every 500 ms from 5 s on: their mean, not either.
        let out = run(
            |ms| match ms {
                ..5000 => 1_000_000,
                _ if (ms / 500) % 2 == 0 => 1_000_000,
                _ => 2_000_000,
            },
            12_000,
        );
        let late: Vec<u64> = (out.iter().filter(|(t, _)| *t >= 8000))
            .map(|(_, r)| *r)
            .collect();
        assert!(
            late.iter().all(|r| (1_300_000..=1_700_000).contains(r)),
            "{out:?}"
        );
    }

    #[test]
    fn a_drop_after_a_steady_estimate_is_followed_at_once() {
        let out = run(|ms| if ms < 6000 { 2_500_000 } else { 600_000 }, 8000);
        assert_eq!(out, vec![(0, 2_500_000), (6000, 600_000)]);
    }

    #[test]
    fn a_steady_estimate_is_emitted_once() {
        let out = run(|_| 1_000_000, 5000);
        assert_eq!(out, vec![(0, 1_000_000)]);
    }

    #[test]
    fn a_wobble_within_the_tolerance_is_not_emitted() {
        let out = run(|ms| 1_000_000 + (ms / 10 % 2) * 20_000, 5000);
        assert_eq!(out.len(), 1, "{out:?}");
    }
}
