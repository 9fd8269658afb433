//! When to pad a subscriber's link to find out whether it carries the next layer up.
//!
//! GCC keeps its estimate near what is sent: a subscriber held to a low layer by its own link
//! never shows that the link has room for more unless something fills it. str0m pads up to
//! the `minimum` bitrate it is given (never above its estimate). Padding all the time fills a
//! weak link to its estimate for good, and every overshoot of that estimate then costs the
//! audio that shares the queue (measured: audio lost on a 90 kbit/s link, a weak link's
//! teacher video stalling). So padding comes in windows: [`WINDOW`] long, and after a
//! window that brought no step up the next one waits twice as long as the last wait
//! ([`FIRST_WAIT`] to [`LONGEST_WAIT`]). A step up, or a link that no longer limits, starts
//! over. Between windows str0m's own short probes (every few seconds in ALR) still look
//! for room.
//!
//! Pure and sans-IO: the caller says what time it is and what happened.

use std::time::{Duration, Instant};

/// How long one window of padding lasts: GCC raises its estimate by some 8 % a second, so a
/// few seconds find a step of a layer or two.
pub const WINDOW: Duration = Duration::from_secs(3);

/// The wait after a window that found nothing, the first time.
pub const FIRST_WAIT: Duration = Duration::from_secs(6);

/// The longest wait between windows: a link that got better is noticed within this (or
/// sooner, by str0m's probes).
pub const LONGEST_WAIT: Duration = Duration::from_secs(48);

/// One subscriber's padding windows.
#[derive(Debug, Clone, Default)]
pub struct Padding {
    /// The window under way: until when, and what was allocated when it began.
    window: Option<(Instant, u64)>,
    /// No window before this.
    not_before: Option<Instant>,
    /// The wait after the next window that finds nothing.
    wait: Option<Duration>,
}

impl Padding {
    /// Whether to pad now. `wants_more`: the subscriber's own link (not a budget) holds its
    /// allocation below what its page shows; `allocated`: bit/s allocated now.
    pub fn pad(&mut self, now: Instant, wants_more: bool, allocated: u64) -> bool {
        if !wants_more {
            *self = Padding::default();
            return false;
        }
        if let Some((until, at_start)) = self.window {
            if allocated > at_start {
                // A step up: the link had room. Look again soon.
                self.window = None;
                self.wait = None;
                self.not_before = Some(now + FIRST_WAIT);
                return false;
            }
            if now < until {
                return true;
            }
            let wait = self.wait.unwrap_or(FIRST_WAIT);
            self.window = None;
            self.not_before = Some(now + wait);
            self.wait = Some((wait * 2).min(LONGEST_WAIT));
            return false;
        }
        if self.not_before.is_some_and(|t| now < t) {
            return false;
        }
        self.window = Some((now + WINDOW, allocated));
        true
    }

    /// A new path: what the old one showed says nothing about it.
    pub fn reset(&mut self) {
        *self = Padding::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(500);

    /// Runs `p` from `start` for `secs` with the link limiting and nothing allocated more;
    /// returns when it padded.
    fn padded(p: &mut Padding, start: Instant, secs: u64) -> Vec<Duration> {
        let mut t = start;
        let mut on = Vec::new();
        while t < start + Duration::from_secs(secs) {
            if p.pad(t, true, 300_000) {
                on.push(t - start);
            }
            t += TICK;
        }
        on
    }

    #[test]
    fn windows_that_find_nothing_come_ever_more_rarely() {
        let mut p = Padding::default();
        let start = Instant::now();
        let on = padded(&mut p, start, 120);
        let starts: Vec<u64> = on
            .iter()
            .zip(std::iter::once(None).chain(on.iter().map(Some)))
            .filter(|(t, prev)| prev.is_none_or(|p| **t - *p > TICK))
            .map(|(t, _)| t.as_secs())
            .collect();
        // 3 s on, then waits of 6, 12, 24, 48 s.
        assert_eq!(starts, vec![0, 9, 24, 51, 102]);
        assert!(on.len() <= 5 * 6 + 1, "{on:?}");
    }

    #[test]
    fn a_step_up_ends_the_window_and_looks_again_soon() {
        let mut p = Padding::default();
        let start = Instant::now();
        padded(&mut p, start, 40);
        let t = start + Duration::from_secs(51);
        assert!(p.pad(t, true, 300_000), "the window at 51 s");
        assert!(!p.pad(t + TICK, true, 600_000), "the step up ends it");
        assert!(!p.pad(t + Duration::from_secs(5), true, 600_000));
        assert!(
            p.pad(t + Duration::from_secs(7), true, 600_000),
            "soon again"
        );
    }

    #[test]
    fn a_link_that_no_longer_limits_starts_over() {
        let mut p = Padding::default();
        let start = Instant::now();
        padded(&mut p, start, 40);
        let t = start + Duration::from_secs(41);
        assert!(!p.pad(t, false, 300_000));
        assert!(p.pad(t + TICK, true, 300_000), "no wait after a start over");
    }
}
