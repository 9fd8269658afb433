//! When to pad a subscriber's link to find out whether it carries the next layer up.
//!
//! GCC keeps its estimate near what is sent: a subscriber held to a low layer by its own link
//! never shows that the link has room for more unless something fills it. str0m pads up to
//! the `minimum` bitrate it is given (never above its estimate). Padding all the time fills a
//! weak link to its estimate for good, and every overshoot of that estimate then costs the
//! audio that shares the queue (measured: audio lost on a 90 kbit/s link, a weak link's
//! teacher video stalling). So padding comes in windows. A window goes on while the estimate
//! climbs (a link with room: 1 → 2.5 Mbit/s takes GCC some ten seconds) and ends once it has
//! not risen for [`STALL`] (the link is full) or after [`LONGEST_WINDOW`]. A step up starts
//! the next window at once; after a window that found nothing the next waits, [`FIRST_WAIT`]
//! the first time and twice as long each time after, up to [`LONGEST_WAIT`]. A link that no
//! longer limits starts over. Between windows str0m's own short probes (every few seconds
//! while the link is not full) still look for room. While a host's video is paused for want
//! of room the waits stay short ([`URGENT_WAIT`]): the teacher missing is worth more risk to
//! the audio, yet the gaps between windows still let the link drain below its capacity.
//!
//! GCC climbs from what is sent by some 8 % a second at best, too slow to fill a link that
//! opened from 1 to 2.5 Mbit/s within a lesson's minute. str0m also probes: a short burst
//! (15 ms) at up to twice the estimate whose arrival measures the link at once. It sends one
//! when the `desired` rate it is told rises above the estimate. So each window begins with a
//! probe: `desired` is held at the estimate for one decision and raised again at the next
//! ([`Padding::desired`]).
//!
//! GCC also lowers its estimate towards what is sent: a subscriber whose page hid every video
//! for a while, and so received only audio, ends with an estimate too low for the video it
//! then asks for, and climbing back from there takes half a minute. [`Carried`] remembers
//! what the link carried while it was in use, to start from there again.
//!
//! Pure and sans-IO: the caller says what time it is and what happened.

use std::time::{Duration, Instant};

/// A window ends when the estimate has not risen for this long: GCC raises it some 8 % a
/// second while there is room, so a second and a half without a rise means the link is full.
pub const STALL: Duration = Duration::from_millis(1500);

/// The longest window: long enough for GCC to climb from 1 to 2.5 Mbit/s.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(15);

/// The wait after a window that found nothing, the first time.
pub const FIRST_WAIT: Duration = Duration::from_secs(6);

/// The longest wait between windows: a link that got better is noticed within this (or
/// sooner, by str0m's probes).
pub const LONGEST_WAIT: Duration = Duration::from_secs(48);

/// The wait between windows while a host's video is paused: it does not grow.
pub const URGENT_WAIT: Duration = Duration::from_secs(2);

/// How long what a link carried is remembered while its page shows no video.
pub const REMEMBER: Duration = Duration::from_secs(300);

/// A window under way.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    /// What was allocated when it began.
    allocated: u64,
    /// The highest estimate seen in it, and when the estimate last rose above the one before.
    best: u64,
    rose_at: Instant,
}

/// One subscriber's padding windows.
#[derive(Debug, Clone, Default)]
pub struct Padding {
    window: Option<Window>,
    /// No window before this.
    not_before: Option<Instant>,
    /// The wait after the next window that finds nothing.
    wait: Option<Duration>,
    /// Where the probe that begins a window stands.
    probe: Probe,
}

/// The probe that begins a window: `desired` held at the estimate, then raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Probe {
    #[default]
    Idle,
    Hold,
    Raise,
}

impl Padding {
    /// Whether to pad now. `wants_more`: the subscriber's own link (not a budget) holds its
    /// allocation below what its page shows; `urgent`: a host's video is paused for it;
    /// `allocated`: bit/s allocated now; `estimate`: the link's estimate now.
    pub fn pad(
        &mut self,
        now: Instant,
        wants_more: bool,
        urgent: bool,
        allocated: u64,
        estimate: u64,
    ) -> bool {
        if !wants_more {
            *self = Padding::default();
            return false;
        }
        match self.window.as_mut() {
            Some(w) if allocated > w.allocated => {
                // A step up: the link had room; look for the next one at once.
                self.wait = None;
                self.start(now, allocated, estimate);
                true
            }
            Some(w) => {
                if estimate > w.best {
                    w.best = estimate;
                    w.rose_at = now;
                }
                if now < w.rose_at + STALL && now < w.started + LONGEST_WINDOW {
                    return true;
                }
                let wait = self.wait.unwrap_or(FIRST_WAIT);
                self.window = None;
                self.not_before = Some(now + if urgent { URGENT_WAIT } else { wait });
                self.wait = Some((wait * 2).min(LONGEST_WAIT));
                false
            }
            // A host's video paused since the last window ended: the wait shrinks.
            None if urgent && self.not_before.is_some_and(|t| t > now + URGENT_WAIT) => {
                self.not_before = Some(now + URGENT_WAIT);
                false
            }
            None if self.not_before.is_some_and(|t| now < t) => false,
            None => {
                self.start(now, allocated, estimate);
                true
            }
        }
    }

    fn start(&mut self, now: Instant, allocated: u64, estimate: u64) {
        self.window = Some(Window::new(now, allocated, estimate));
        self.probe = Probe::Hold;
    }

    /// What to tell str0m the page would show, given what it would (`desired`) and the
    /// estimate: at a window's first decision no more than the estimate, so that the next,
    /// raising it again, makes str0m probe.
    pub fn desired(&mut self, desired: u64, estimate: u64) -> u64 {
        match self.probe {
            Probe::Hold => {
                self.probe = Probe::Raise;
                desired.min(estimate)
            }
            Probe::Raise | Probe::Idle => {
                self.probe = Probe::Idle;
                desired
            }
        }
    }

    /// A new path: what the old one showed says nothing about it.
    pub fn reset(&mut self) {
        *self = Padding::default();
    }
}

/// What a subscriber's link carried when last in use (its estimate while the page asked for
/// video and for at least half the estimate), to start from again when video is asked for
/// after the page showed none for a while.
#[derive(Debug, Clone, Copy, Default)]
pub struct Carried {
    /// The estimate when last in use, and when that was.
    carried: Option<(u64, Instant)>,
    /// The page showed no video since.
    idle: bool,
}

impl Carried {
    /// One decision: `demand`, bit/s the page asks for; `audio`, the part of it that is
    /// audio; `estimate`, the link's estimate now. Returns the estimate to start from again
    /// when the page asks for more than the estimate, which fell while the page showed no
    /// video, to well below what the link carried (once: an estimate that then falls again
    /// is the link's).
    pub fn restart(&mut self, now: Instant, demand: u64, audio: u64, estimate: u64) -> Option<u64> {
        if demand <= audio {
            self.idle = true;
            return None;
        }
        if let Some((carried, at)) = self.carried {
            if now >= at + REMEMBER {
                self.carried = None;
            } else if self.idle && demand > estimate && carried > estimate + estimate / 4 {
                *self = Carried::default();
                return Some(carried.min(demand));
            }
        }
        if demand * 2 >= estimate {
            *self = Carried {
                carried: Some((estimate, now)),
                idle: false,
            };
        }
        None
    }
}

impl Window {
    fn new(now: Instant, allocated: u64, estimate: u64) -> Window {
        Window {
            started: now,
            allocated,
            best: estimate,
            rose_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(500);

    /// Runs `p` from `start` for `secs` with the link limiting, nothing allocated more and
    /// the estimate flat; returns when it padded.
    fn padded(p: &mut Padding, start: Instant, secs: u64) -> Vec<Duration> {
        let mut t = start;
        let mut on = Vec::new();
        while t < start + Duration::from_secs(secs) {
            if p.pad(t, true, false, 300_000, 400_000) {
                on.push(t - start);
            }
            t += TICK;
        }
        on
    }

    fn window_starts(on: &[Duration]) -> Vec<f64> {
        on.iter()
            .enumerate()
            .filter(|(i, t)| *i == 0 || **t - on[i - 1] > TICK)
            .map(|(_, t)| t.as_secs_f64())
            .collect()
    }

    #[test]
    fn windows_on_a_full_link_are_short_and_come_ever_more_rarely() {
        let mut p = Padding::default();
        let start = Instant::now();
        let on = padded(&mut p, start, 120);
        // 1.5 s on (the estimate does not rise), then waits of 6, 12, 24, 48 s.
        assert_eq!(window_starts(&on), vec![0.0, 7.5, 21.0, 46.5, 96.0]);
        assert_eq!(on.len(), 5 * 3, "{on:?}");
    }

    #[test]
    fn a_window_goes_on_while_the_estimate_climbs() {
        let mut p = Padding::default();
        let start = Instant::now();
        let mut estimate = 1_000_000_u64;
        let mut padded = 0;
        for i in 0..40 {
            let t = start + TICK * i;
            if p.pad(t, true, false, 900_000, estimate) {
                padded += 1;
            }
            estimate = estimate * 104 / 100;
        }
        // Up to the longest window, then the wait.
        assert_eq!(padded, 30);
    }

    #[test]
    fn a_step_up_goes_on_padding_at_once() {
        let mut p = Padding::default();
        let start = Instant::now();
        padded(&mut p, start, 40);
        let t = start + Duration::from_secs(47);
        assert!(
            p.pad(t, true, false, 300_000, 400_000),
            "the window at 46.5 s"
        );
        assert!(
            p.pad(t + TICK, true, false, 600_000, 400_000),
            "a step up pads on"
        );
        assert!(p.pad(t + TICK * 2, true, false, 600_000, 400_000));
    }

    #[test]
    fn a_link_that_no_longer_limits_starts_over() {
        let mut p = Padding::default();
        let start = Instant::now();
        padded(&mut p, start, 40);
        let t = start + Duration::from_secs(41);
        assert!(!p.pad(t, false, false, 300_000, 400_000));
        assert!(
            p.pad(t + TICK, true, false, 300_000, 400_000),
            "no wait after a start over"
        );
    }

    #[test]
    fn while_a_host_is_paused_windows_come_every_few_seconds() {
        let mut p = Padding::default();
        let start = Instant::now();
        // A long wait built up, then the host's video pauses: the next window is soon.
        padded(&mut p, start, 40);
        let mut t = start + Duration::from_secs(40);
        let mut starts = Vec::new();
        let mut was = false;
        while t < start + Duration::from_secs(60) {
            let on = p.pad(t, true, true, 300_000, 400_000);
            if on && !was {
                starts.push((t - start).as_secs_f64());
            }
            was = on;
            t += TICK;
        }
        assert_eq!(starts, vec![42.0, 45.5, 49.0, 52.5, 56.0, 59.5]);
    }

    #[test]
    fn an_estimate_that_fell_while_no_video_was_shown_starts_again_from_what_the_link_carried() {
        let mut c = Carried::default();
        let t = Instant::now();
        // Video shown on a link of about 800 kbit/s.
        assert_eq!(c.restart(t, 2_000_000, 100_000, 800_000), None);
        // Every tile hidden: audio only, the estimate falls towards it; nothing restarts.
        for (i, e) in [600_000, 300_000, 150_000].into_iter().enumerate() {
            let at = t + Duration::from_secs(5 * (i as u64 + 1));
            assert_eq!(c.restart(at, 100_000, 100_000, e), None);
        }
        // A tile shown again: from what the link carried, once.
        let at = t + Duration::from_secs(30);
        assert_eq!(c.restart(at, 2_000_000, 100_000, 150_000), Some(800_000));
        assert_eq!(c.restart(at + TICK, 2_000_000, 100_000, 160_000), None);
    }

    #[test]
    fn an_estimate_that_fell_while_the_link_was_in_use_is_the_links() {
        let mut c = Carried::default();
        let t = Instant::now();
        // A thin link: the page asks for video all along, the estimate falls and stays.
        for (i, e) in [800_000, 400_000, 90_000, 90_000].into_iter().enumerate() {
            let at = t + Duration::from_secs(5 * i as u64);
            assert_eq!(c.restart(at, 2_000_000, 100_000, e), None);
        }
        // Remembered for a while only.
        let mut c = Carried::default();
        assert_eq!(c.restart(t, 2_000_000, 100_000, 800_000), None);
        let late = t + REMEMBER + TICK;
        assert_eq!(c.restart(late, 2_000_000, 100_000, 150_000), None);
    }

    #[test]
    fn a_window_begins_with_desired_held_at_the_estimate_then_raised() {
        let mut p = Padding::default();
        let t = Instant::now();
        assert_eq!(
            p.desired(2_000_000, 900_000),
            2_000_000,
            "no window, no hold"
        );
        assert!(p.pad(t, true, false, 800_000, 900_000));
        assert_eq!(p.desired(2_000_000, 900_000), 900_000, "held");
        assert!(p.pad(t + TICK, true, false, 800_000, 900_000));
        assert_eq!(
            p.desired(2_000_000, 900_000),
            2_000_000,
            "raised: str0m probes"
        );
        assert_eq!(p.desired(2_000_000, 900_000), 2_000_000);
        // A step up begins a new window, with a new probe.
        assert!(p.pad(t + TICK * 2, true, false, 1_200_000, 1_400_000));
        assert_eq!(p.desired(2_000_000, 1_400_000), 1_400_000);
    }
}
