//! Connection quality of one participant: `good`, `poor` or `lost`, from what the SFU measures
//! of its two connections (docs/protocol.md, "Connection quality"). Sans-IO like the rest of the
//! core: samples and `now` come in, a change to announce comes out of [`QualityMeter::poll`].
//!
//! The thresholds follow what people notice in a call. ITU-T G.114 puts one-way delay that
//! starts to hurt conversation at 150-200 ms, so a round trip of 400 ms is poor; Opus with
//! its loss concealment stays intelligible to about 5 % loss, VP8 without it shows artefacts
//! earlier, so 5 % is poor; 60 ms of interarrival jitter is what a browser's jitter buffer
//! starts to add audible delay for. Coming back needs clearly better figures (2 %, 250 ms,
//! 30 ms) and every rating holds for [`MIN_HOLD`], so a link near a threshold does not make
//! its tile blink.

use std::time::{Duration, Instant};

use crate::api::Quality;

/// A connection that heard nothing at all for this long has lost its path. Browsers send an
/// ICE consent check on the selected pair every 2.5 s and RTCP at least once a second on a
/// connection that carries media, so 5 s is two missed checks, never a quiet moment.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(5);

/// The shortest time a rating is shown before it may change again.
pub const MIN_HOLD: Duration = Duration::from_secs(2);

const POOR_LOSS: f32 = 0.05;
const POOR_RTT_MS: f32 = 400.0;
const POOR_JITTER_MS: f32 = 60.0;
const GOOD_LOSS: f32 = 0.02;
const GOOD_RTT_MS: f32 = 250.0;
const GOOD_JITTER_MS: f32 = 30.0;

/// Weight of a new sample in the running means: reports come every second per stream, so
/// half-weight forgets a spike within a few seconds yet ignores a single bad report.
const SMOOTHING: f32 = 0.5;

#[derive(Debug, Default)]
pub struct QualityMeter {
    rated: Quality,
    rated_at: Option<Instant>,
    /// The worst of the reports since the last rating: each stream reports on its own, and a
    /// link is as good as its worst stream (audio loses what video recovers by NACK).
    worst: Option<Sample>,
    /// Running means of those per-rating worsts.
    mean: Sample,
    /// The last rating found the participant silent: the next reports are the outage's.
    after_silence: bool,
}

/// Fraction of packets lost (to or from the participant), round-trip time, jitter.
#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    loss: f32,
    rtt_ms: f32,
    jitter_ms: f32,
}

impl QualityMeter {
    // ---- inputs ----

    /// A report on media the participant sends us: loss we saw, interarrival jitter.
    pub fn handle_ingress(&mut self, loss: Option<f32>, jitter: Duration) {
        let w = self.worst.get_or_insert_with(Sample::default);
        if let Some(loss) = loss.filter(|l| l.is_finite()) {
            w.loss = w.loss.max(loss.clamp(0.0, 1.0));
        }
        w.jitter_ms = w.jitter_ms.max(jitter.as_secs_f32() * 1000.0);
    }

    /// A report on media we send the participant, from its receiver reports: loss and
    /// round-trip time.
    pub fn handle_egress(&mut self, loss: Option<f32>, rtt: Option<Duration>) {
        let w = self.worst.get_or_insert_with(Sample::default);
        if let Some(loss) = loss.filter(|l| l.is_finite()) {
            w.loss = w.loss.max(loss.clamp(0.0, 1.0));
        }
        if let Some(rtt) = rtt {
            w.rtt_ms = w.rtt_ms.max(rtt.as_secs_f32() * 1000.0);
        }
    }

    // ---- outputs ----

    /// The rating now, if it differs from the last one returned and that one has held long
    /// enough. `silent`: one of the participant's connections has heard nothing for
    /// [`SILENCE_LIMIT`]. Called once per rating interval: the reports since the last call
    /// count as one sample.
    pub fn poll(&mut self, now: Instant, silent: bool) -> Option<Quality> {
        if silent {
            // An outage is not a poor link: the reports that cover it (loss of everything
            // sent meanwhile) would keep a link that came back rated poor for many seconds.
            self.mean = Sample::default();
            self.worst = None;
            self.after_silence = true;
        } else if self.after_silence {
            self.after_silence = false;
            self.worst = None; // the first reports after the outage still describe it
        }
        if let Some(w) = self.worst.take() {
            self.mean = Sample {
                loss: smooth(self.mean.loss, w.loss),
                rtt_ms: smooth(self.mean.rtt_ms, w.rtt_ms),
                jitter_ms: smooth(self.mean.jitter_ms, w.jitter_ms),
            };
        }
        let wanted = self.wanted(silent);
        if wanted == self.rated {
            return None;
        }
        if self.rated_at.is_some_and(|at| now < at + MIN_HOLD) {
            return None;
        }
        self.rated = wanted;
        self.rated_at = Some(now);
        Some(wanted)
    }

    fn wanted(&self, silent: bool) -> Quality {
        if silent {
            return Quality::Lost;
        }
        let m = self.mean;
        let poor = m.loss >= POOR_LOSS || m.rtt_ms >= POOR_RTT_MS || m.jitter_ms >= POOR_JITTER_MS;
        let good = m.loss < GOOD_LOSS && m.rtt_ms < GOOD_RTT_MS && m.jitter_ms < GOOD_JITTER_MS;
        match self.rated {
            _ if poor => Quality::Poor,
            _ if good => Quality::Good,
            // Between the thresholds: stay, except that a path that came back is not lost.
            Quality::Lost => Quality::Poor,
            q => q,
        }
    }
}

fn smooth(mean: f32, sample: f32) -> f32 {
    mean + SMOOTHING * (sample - mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_clean_link_stays_good_and_says_nothing() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        for i in 0..10 {
            q.handle_ingress(Some(0.0), ms(5));
            q.handle_egress(Some(0.0), Some(ms(40)));
            assert_eq!(q.poll(t0 + S * i, false), None);
        }
        assert_eq!(q.rated, Quality::Good);
    }

    #[test]
    fn silence_is_lost_at_once_and_recovery_waits_for_the_hold() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        assert_eq!(q.poll(t0, true), Some(Quality::Lost));
        assert_eq!(q.poll(t0 + S, false), None, "held for 2 s");
        assert_eq!(q.poll(t0 + 2 * S, false), Some(Quality::Good));
    }

    #[test]
    fn the_loss_of_an_outage_does_not_make_the_link_poor_afterwards() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        for i in 0..8 {
            q.handle_egress(Some(1.0), None); // everything sent meanwhile is lost
            q.poll(t0 + S * i, true);
        }
        assert_eq!(q.rated, Quality::Lost);
        // Back: the first second still reports the outage's loss, then the link is clean.
        q.handle_egress(Some(0.9), None);
        q.handle_ingress(Some(0.8), ms(200));
        assert_eq!(q.poll(t0 + 8 * S, false), Some(Quality::Good));
    }

    #[test]
    fn sustained_loss_is_poor_and_a_single_bad_second_is_not() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        q.handle_egress(Some(0.08), None);
        // One second of 8 % moves the mean to 4 %: not yet poor.
        assert_eq!(q.poll(t0, false), None);
        q.handle_egress(Some(0.08), None);
        assert_eq!(q.poll(t0 + S, false), Some(Quality::Poor));
    }

    #[test]
    fn the_worst_stream_counts() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        for i in 0..3 {
            // Audio loses 16 %; video recovers everything by retransmission.
            q.handle_ingress(Some(0.16), ms(1));
            q.handle_ingress(Some(0.0), ms(10));
            q.handle_ingress(Some(0.0), ms(10));
            if let Some(r) = q.poll(t0 + S * i, false) {
                assert_eq!(r, Quality::Poor);
            }
        }
        assert_eq!(q.rated, Quality::Poor);
    }

    #[test]
    fn between_the_thresholds_the_rating_stays() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        let second = |q: &mut QualityMeter, i: u32, rtt: u64| {
            q.handle_egress(None, Some(ms(rtt)));
            q.poll(t0 + S * i, false)
        };
        assert_eq!(second(&mut q, 0, 900), Some(Quality::Poor));
        // 300 ms is better than poor but not good enough to come back.
        for i in 1..8 {
            assert_eq!(second(&mut q, i, 300), None);
        }
        let back = (8..12).find_map(|i| second(&mut q, i, 100));
        assert_eq!(back, Some(Quality::Good));
    }

    #[test]
    fn jitter_alone_makes_a_link_poor() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        q.handle_ingress(Some(0.0), ms(150));
        assert_eq!(q.poll(t0, false), Some(Quality::Poor));
    }

    #[test]
    fn absurd_samples_are_clamped() {
        let t0 = Instant::now();
        let mut q = QualityMeter::default();
        q.handle_egress(Some(f32::NAN), None);
        q.handle_egress(Some(f32::INFINITY), None);
        q.handle_egress(Some(-3.0), None);
        q.handle_ingress(Some(7.0), Duration::ZERO);
        assert_eq!(q.worst.map(|w| w.loss), Some(1.0));
        // 7.0 is clamped to 1.0: all lost, poor; never a panic or a NaN rating.
        assert_eq!(q.poll(t0, false), Some(Quality::Poor));
        assert!((0.0..=1.0).contains(&q.mean.loss), "{}", q.mean.loss);
    }
}
