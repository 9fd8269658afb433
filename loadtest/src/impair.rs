//! The `impair` scenario's link and report (issue 11): one student's downlink through a
//! shaping relay whose capacity follows RFC 8867 section 5.1 (1, 2.5, 0.6 and 1 Mbit/s at 0,
//! 40, 60 and 80 s of 100), in a class whose teacher and students publish simulcast; a twin
//! student with the same page behind an unshaped relay says what the shaped one would have
//! been sent.
//!
//! The report gives, per second of the shaped link: its capacity, what the server sent into
//! it, what came out to the bot, the share dropped at the full queue and the queueing delay,
//! the twin's rate (the demand) and the server's estimate of the link (GCC, from
//! `GET /api/rooms/{id}/bandwidth`). From those, against the targets:
//! - after each drop in capacity, how long the server took to send less than the capacity
//!   (over a whole second), at most [`RECOVERY_TARGET`];
//! - in the second half of each phase, the media that came through (retransmissions,
//!   padding and RTCP left out) against what could have (the capacity, or the demand where
//!   that is lower): at least [`UTILIZATION_TARGET`];
//! - the audio of every publisher uninterrupted: no silence of [`AUDIO_GAP`] or more;
//! - the teacher's video never paused while any other video still reached that student:
//!   neither by the server's word (`bandwidth`) nor by the frames (a teacher silence of
//!   [`TEACHER_GAP`] or more during which another camera's frames kept coming for
//!   [`TEACHER_GAP`] or more, frames timed by their arrival, see `driver/receive.rs`).
//!
//! Pure: [`ImpairReport::build`] works on what the run collected; [`svg`] draws it.

use std::time::Duration;

use serde::Serialize;

use crate::gaps::{Span, StreamKind, covered};
use crate::link::{self, LinkConfig, LinkLog, Profile};
use crate::plot::{Plot, Series};
use crate::relay::{DownTiming, RelayLog};
use crate::report::{Outcome, Sample};
use crate::scenario::Scenario;
use crate::stats::BotStats;

/// The longest the server may keep sending more than a dropped capacity.
pub const RECOVERY_TARGET: Duration = Duration::from_secs(2);
/// How far over the capacity a whole second may be once the server is back under it: a
/// sender that has found the capacity runs at it and probes a little above now and then; 5 %
/// over for a second adds 50 ms to the queue, a sixth of its length.
pub const SETTLED_TOLERANCE: f64 = 0.05;
/// What must come through in a steady phase, of what the link or the demand allow.
pub const UTILIZATION_TARGET: f64 = 0.8;
/// An audio silence this long is an interruption: ten Opus frames in a row, more than a
/// browser's jitter buffer conceals without the listener noticing a dropout.
pub const AUDIO_GAP: Duration = Duration::from_millis(200);
/// A teacher video silence this long is a pause, not a lost frame or two. Another camera
/// must have flowed this long within it too: when the server pauses every video at once,
/// frames already on their way and a student's one-packet keyframe overtaking the teacher's
/// larger one at the resume put a few other frames inside the teacher's silence, though
/// nothing was sent instead of her video.
pub const TEACHER_GAP: Duration = Duration::from_millis(500);

/// The shaped link of an impair run.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairSpec {
    /// The capacity over time; `None`: RFC 8867 section 5.1 scaled to the run's duration.
    pub profile: Option<Profile>,
    /// The bottleneck's drop-tail queue.
    pub queue: Duration,
    /// One-way delay, both ways.
    pub delay: Duration,
    /// The token bucket's depth, bytes: how much passes at once after an idle moment.
    pub burst_bytes: u64,
}

impl Default for ImpairSpec {
    fn default() -> Self {
        ImpairSpec {
            profile: None,
            queue: link::QUEUE,
            delay: link::DELAY,
            burst_bytes: link::BURST_BYTES,
        }
    }
}

impl ImpairSpec {
    /// The profile for a run of `duration`.
    pub fn profile(&self, duration: Duration) -> Profile {
        self.profile
            .clone()
            .unwrap_or_else(|| Profile::rfc8867(duration))
    }

    /// The shaped link for a run of `duration`.
    pub fn link(&self, duration: Duration) -> LinkConfig {
        LinkConfig {
            queue: self.queue,
            delay: self.delay,
            burst_bytes: self.burst_bytes,
            ..LinkConfig::new(self.profile(duration))
        }
    }
}

/// Which bot a relay serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkRole {
    /// The student whose downlink is shaped.
    Shaped,
    /// A student with the same page on an unshaped link: the demand.
    Twin,
}

/// A relay's log at the end of a run, and whose it was.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The bot's index in the plan.
    pub bot: usize,
    /// Its role.
    pub role: LinkRole,
    /// When the relay started, from the run's start: its time zero.
    pub started: Duration,
    /// What it recorded.
    pub log: RelayLog,
}

/// One second of the shaped link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Second {
    /// Its start, seconds from the link's start.
    pub t: f64,
    /// The capacity then, kbit/s.
    pub capacity_kbps: Option<f64>,
    /// What the server sent into the link (IP and UDP headers counted, like the capacity).
    pub sent_kbps: f64,
    /// What came out to the bot.
    pub received_kbps: f64,
    /// Of what the server sent, retransmissions (`rtx`), kbit/s.
    pub rtx_kbps: f64,
    /// Of what the server sent, RTP packets with the padding bit (probes, fill), kbit/s.
    pub padding_kbps: f64,
    /// Of what the server sent, RTCP, kbit/s.
    pub rtcp_kbps: f64,
    /// Of what was sent, the share the full queue dropped, percent.
    pub dropped_percent: f64,
    /// Mean and longest wait in the queue, ms.
    pub queue_ms_mean: f64,
    /// Longest.
    pub queue_ms_max: f64,
    /// What the twin was sent: the demand of the same page.
    pub demand_kbps: Option<f64>,
    /// The server's estimate of the shaped link (GCC), kbit/s, sampled in this second.
    pub estimate_kbps: Option<f64>,
    /// What the allocator gave the shaped student, kbit/s.
    pub allocated_kbps: Option<f64>,
}

/// Back under capacity after a drop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recovery {
    /// When the capacity dropped, seconds from the link's start.
    pub at_s: f64,
    /// From, kbit/s.
    pub from_kbps: f64,
    /// To, kbit/s.
    pub to_kbps: f64,
    /// Seconds until the server first sent no more than the capacity over every span from
    /// then of 300 ms to a whole second; `None`: not within the phase.
    pub first_under_s: Option<f64>,
    /// Seconds until it stayed there: every whole second from then to the phase's end fits
    /// the capacity (within [`SETTLED_TOLERANCE`]), and not before it first fitted. What the
    /// target is judged on: a server that dips under once and goes back over is not back
    /// under. `None`: not within the phase.
    pub back_under_s: Option<f64>,
    /// Of the phase's whole seconds (in 100 ms steps), the share over the capacity by more
    /// than [`SETTLED_TOLERANCE`].
    pub over_share: f64,
}

/// One phase of constant capacity, measured over its second half.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Phase {
    /// Its start and end, seconds.
    pub span_s: [f64; 2],
    /// Where the measurement starts, seconds.
    pub measured_from_s: f64,
    /// The capacity, kbit/s.
    pub capacity_kbps: f64,
    /// What the server sent into the link, kbit/s.
    pub sent_kbps: f64,
    /// What came through, kbit/s.
    pub received_kbps: f64,
    /// What the same page got on an unshaped link, kbit/s.
    pub demand_kbps: Option<f64>,
    /// Received over capacity.
    pub utilization: f64,
    /// Received over the lower of capacity and demand (a page that asks for less than the
    /// link carries cannot fill it).
    pub utilization_of_possible: f64,
    /// Of what was received, the media: the received rate times the share of media RTP in
    /// what the server sent (retransmissions, padding and RTCP left out), kbit/s.
    pub media_kbps: f64,
    /// Media over the lower of capacity and demand: what the target is judged on, as
    /// padding and retransmissions fill a link without the student seeing or hearing more.
    pub media_utilization_of_possible: f64,
    /// Of what was sent, the share dropped, percent.
    pub dropped_percent: f64,
}

/// What the shaped student heard: every publisher's audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AudioReport {
    /// Audio frames missing over all audio frames, percent.
    pub loss_percent: f64,
    /// Silences of [`AUDIO_GAP`] or more, all publishers.
    pub gaps: usize,
    /// The longest silence of any publisher's audio, ms.
    pub longest_gap_ms: f64,
}

/// Whether the teacher's video came down first and went last.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeacherReport {
    /// Seconds the server said it paused the teacher's video while not pausing another shown
    /// one (`bandwidth`).
    pub paused_while_others_shown_s: f64,
    /// Teacher video silences of [`TEACHER_GAP`] or more during which another camera's
    /// frames came for [`TEACHER_GAP`] or more.
    pub silences_while_others_flowed: usize,
    /// Those silences, `[from, to]` in seconds from the shaped student's start (its link's,
    /// within milliseconds): to look them up in `seconds`.
    pub silences_s: Vec<[f64; 2]>,
    /// The longest teacher video silence, ms.
    pub longest_gap_ms: f64,
    /// Times the server paused the teacher's video (`bandwidth`), for any reason.
    pub pauses: u32,
}

/// The impair section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ImpairReport {
    /// The link: profile, queue, delay.
    pub link: LinkConfig,
    /// Every second of the run on the shaped link.
    pub seconds: Vec<Second>,
    /// After each drop in capacity.
    pub recoveries: Vec<Recovery>,
    /// Each phase.
    pub phases: Vec<Phase>,
    /// The shaped student's audio.
    pub audio: AudioReport,
    /// The teacher's video at the shaped student.
    pub teacher: TeacherReport,
    /// Videos the server paused at the shaped student for want of bandwidth, and for how long
    /// in all, seconds.
    pub pauses: u32,
    /// Their total length, seconds.
    pub paused_s: f64,
    /// Datagrams the relays could not take (the loadtest stalled) or send: not the link's.
    pub relay_overflow: u64,
    /// Sends that failed.
    pub relay_send_errors: u64,
    /// Downlink datagrams the relays sent.
    pub relay_sent: u64,
    /// Of those, how many left more than [`crate::relay::LATE`] after the link let them out
    /// (back to back with the next, faster than the link).
    pub relay_late: u64,
    /// The latest, ms.
    pub relay_late_max_ms: f64,
    /// How late on average, ms.
    pub relay_late_mean_ms: f64,
    /// Whether the twin (the demand) was measured.
    pub has_twin: bool,
}

impl ImpairReport {
    /// Builds the section from the run's outcomes, samples (the allocation every second) and
    /// the relays' logs.
    pub fn build(
        spec: &Scenario,
        outcomes: &[Outcome],
        samples: &[Sample],
        relayed: &[Relayed],
    ) -> ImpairReport {
        let link = spec.impair.link(spec.duration);
        let shaped = relayed.iter().find(|r| r.role == LinkRole::Shaped);
        let twin = relayed.iter().find(|r| r.role == LinkRole::Twin);
        let end = spec.duration;
        let empty = LinkLog::default();
        let down = shaped.map_or(&empty, |r| &r.log.down);
        // The twin's clock started a little earlier: line its bins up with the shaped one's.
        let twin_shift = match (shaped, twin) {
            (Some(s), Some(t)) => s.started.saturating_sub(t.started),
            _ => Duration::ZERO,
        };
        let demand = |from: Duration, to: Duration| {
            twin.map(|t| {
                kbps(
                    t.log.down.sum(from + twin_shift, to + twin_shift).offered,
                    to - from,
                )
            })
        };
        let stats = shaped.and_then(|r| outcomes.get(r.bot)?.report.as_ref().map(|r| &r.stats));
        let started = shaped.map_or(Duration::ZERO, |r| r.started);
        let mut seconds = per_second(&link.profile, down, end, &demand);
        if let Some(r) = shaped {
            add_kinds(&mut seconds, &r.log.down_kinds);
        }
        let me = stats.and_then(|s| s.id.clone());
        add_allocation(&mut seconds, samples, started, me.as_deref());
        let teacher_id = outcomes
            .iter()
            .find(|o| o.plan.host)
            .and_then(|o| o.report.as_ref()?.stats.id.clone());
        let (pauses, paused) = stats.map_or((0, Duration::ZERO), |s| {
            let pauses = s.remotes.iter().map(|r| r.pauses).sum();
            let open = s.remotes.iter().filter_map(|r| r.paused_since);
            let open: Duration = open.map(|since| end.saturating_sub(since)).sum();
            (
                pauses,
                s.remotes.iter().map(|r| r.paused_for).sum::<Duration>() + open,
            )
        });
        let timing: Vec<DownTiming> = relayed.iter().map(|r| r.log.down_timing).collect();
        let relay_sent: u64 = timing.iter().map(|t| t.sent).sum();
        let late_sum_us: u64 = timing.iter().map(|t| t.late_sum_us).sum();
        let late_max_us = timing.iter().map(|t| t.late_max_us).max();
        ImpairReport {
            recoveries: recoveries(&link.profile, down, end),
            phases: {
                let mut p = phases(&link.profile, down, end, &demand);
                if let Some(r) = shaped {
                    media_only(&mut p, &r.log.down_kinds);
                }
                p
            },
            audio: stats.map(|s| audio(s, end)).unwrap_or_default(),
            teacher: match (stats, &teacher_id) {
                (Some(s), Some(t)) => teacher(s, t, end),
                _ => TeacherReport::default(),
            },
            pauses,
            paused_s: paused.as_secs_f64(),
            relay_overflow: relayed.iter().map(|r| r.log.overflow).sum(),
            relay_send_errors: relayed.iter().map(|r| r.log.send_errors).sum(),
            relay_sent,
            relay_late: timing.iter().map(|t| t.late).sum(),
            relay_late_max_ms: late_max_us.unwrap_or(0) as f64 / 1000.0,
            relay_late_mean_ms: late_sum_us as f64 / 1000.0 / relay_sent.max(1) as f64,
            has_twin: twin.is_some(),
            seconds,
            link,
        }
    }

    /// What failed of the targets, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.recoveries {
            match r.back_under_s {
                Some(s) if s <= RECOVERY_TARGET.as_secs_f64() => {}
                Some(s) => out.push(format!(
                    "{s:.1} s to get under {:.0} kbit/s at {:.0} s (target {RECOVERY_TARGET:?})",
                    r.to_kbps, r.at_s
                )),
                None => out.push(format!(
                    "never stayed under {:.0} kbit/s after {:.0} s (first under after {})",
                    r.to_kbps,
                    r.at_s,
                    r.first_under_s
                        .map_or("never".to_owned(), |s| format!("{s:.1} s"))
                )),
            }
        }
        for p in &self.phases {
            if p.media_utilization_of_possible < UTILIZATION_TARGET {
                out.push(format!(
                    "media utilization {:.2} at {:.0} kbit/s ({:.0}-{:.0} s; target {UTILIZATION_TARGET})",
                    p.media_utilization_of_possible,
                    p.capacity_kbps,
                    p.measured_from_s,
                    p.span_s[1]
                ));
            }
        }
        // The relay's own trouble is not the link's: such a run measured the loadtest.
        if self.relay_overflow > 0 || self.relay_send_errors > 0 {
            out.push(format!(
                "the relay could not take {} datagrams and failed to send {} (the loadtest \
                 stalled): the run does not measure the link",
                self.relay_overflow, self.relay_send_errors
            ));
        }
        if self.audio.gaps > 0 {
            out.push(format!(
                "audio interrupted {} times (longest {:.0} ms)",
                self.audio.gaps, self.audio.longest_gap_ms
            ));
        }
        let t = &self.teacher;
        if t.paused_while_others_shown_s > 0.0 || t.silences_while_others_flowed > 0 {
            out.push(format!(
                "the teacher's video paused while others flowed ({:.1} s by the server's word, \
                 {} silences by the frames)",
                t.paused_while_others_shown_s, t.silences_while_others_flowed
            ));
        }
        out
    }

    /// One clause for the verdict line.
    pub fn summary(&self) -> String {
        let back = self
            .recoveries
            .iter()
            .map(|r| {
                r.back_under_s
                    .map_or("never".into(), |s| format!("{s:.1} s"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let worst = self
            .phases
            .iter()
            .map(|p| p.media_utilization_of_possible)
            .reduce(f64::min)
            .unwrap_or(0.0);
        format!(
            "shaped link: back under capacity after {back}, media utilization ≥ {worst:.2}, \
             audio loss {:.2} % (longest gap {:.0} ms), teacher paused while others flowed {:.1} s",
            self.audio.loss_percent,
            self.audio.longest_gap_ms,
            self.teacher.paused_while_others_shown_s
        )
    }
}

fn kbps(bytes: u64, over: Duration) -> f64 {
    bytes as f64 * 8.0 / over.as_secs_f64().max(1e-9) / 1e3
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn per_second(
    profile: &Profile,
    down: &LinkLog,
    end: Duration,
    demand: &dyn Fn(Duration, Duration) -> Option<f64>,
) -> Vec<Second> {
    (0..end.as_secs())
        .map(|i| {
            let bin = down.sum(secs(i), secs(i + 1));
            Second {
                t: i as f64,
                capacity_kbps: profile.rate_at(secs(i)).map(|r| r as f64 / 1e3),
                sent_kbps: kbps(bin.offered, secs(1)),
                received_kbps: kbps(bin.delivered, secs(1)),
                dropped_percent: percent(bin.dropped_bytes, bin.offered),
                queue_ms_mean: if bin.passed > 0 {
                    bin.wait_us_sum as f64 / f64::from(bin.passed) / 1e3
                } else {
                    0.0
                },
                queue_ms_max: bin.wait_us_max as f64 / 1e3,
                demand_kbps: demand(secs(i), secs(i + 1)),
                ..Second::default()
            }
        })
        .collect()
}

/// Retransmissions, padding and RTCP per second, from the relay's 100 ms bins.
fn add_kinds(seconds: &mut [Second], kinds: &[[u64; 5]]) {
    let per_second = (Duration::from_secs(1).as_micros() / link::BIN.as_micros()) as usize;
    for (i, second) in seconds.iter_mut().enumerate() {
        let mut sum = [0u64; 5];
        for k in kinds.iter().skip(i * per_second).take(per_second) {
            for (s, v) in sum.iter_mut().zip(k) {
                *s += v;
            }
        }
        second.rtx_kbps = kbps(sum[1], secs(1));
        second.padding_kbps = kbps(sum[2], secs(1));
        second.rtcp_kbps = kbps(sum[3], secs(1));
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The allocator's view of the shaped student (`me`), from each sample, into its second.
fn add_allocation(seconds: &mut [Second], samples: &[Sample], started: Duration, me: Option<&str>) {
    let Some(me) = me else { return };
    for s in samples {
        let Some(at) = s.at.checked_sub(started) else {
            continue;
        };
        let Some(second) = seconds.get_mut(at.as_secs() as usize) else {
            continue;
        };
        let entry = s
            .rooms
            .first()
            .and_then(|r| r.bandwidth.as_ref())
            .and_then(|b| b.subscriber(me));
        if let Some(e) = entry {
            second.estimate_kbps = e.estimate_bps.map(|b| b as f64 / 1e3);
            second.allocated_kbps = Some(e.allocated_bps as f64 / 1e3);
        }
    }
}

/// The phases of the profile within `end`, each as `(from, to, bit/s)`.
fn steps(profile: &Profile, end: Duration) -> Vec<(Duration, Duration, Option<u64>)> {
    let mut out = Vec::new();
    for (i, &(from, rate)) in profile.steps.iter().enumerate() {
        let to = profile.steps.get(i + 1).map_or(end, |s| s.0).min(end);
        if from < to {
            out.push((from, to, rate));
        }
    }
    out
}

/// After each drop: over every whole second from the drop on (in 100 ms steps), what the
/// server sent against the new capacity; when it first fitted, and from when it never went
/// over again (by more than [`SETTLED_TOLERANCE`]) within the phase. Each moment is a step from
/// which every span of 300 ms, 400 ms, … to the whole second fitted: a second's average fits
/// even when its first few hundred ms were well over (1.5 times for 0.4 s, then 0.6 times,
/// averages 0.96), and its start alone would date the recovery that much early; one quiet
/// 100 ms before a burst would too.
fn recoveries(profile: &Profile, down: &LinkLog, end: Duration) -> Vec<Recovery> {
    let phases = steps(profile, end);
    let mut out = Vec::new();
    for w in phases.windows(2) {
        let ((_, _, Some(old)), (at, to, Some(new))) = (w[0], w[1]) else {
            continue;
        };
        if new >= old {
            continue;
        }
        // Per step (on the bins' 100 ms grid): the second from it, and the largest ratio of
        // its spans of 300 ms, 400 ms, … to that second, against the new capacity. Not
        // shorter: the link's queue (300 ms) takes a shorter burst, and 100 ms of video at
        // these rates is mostly one frame or none.
        let mut ratios = Vec::new();
        let t0 = at.div_duration_f64(link::BIN).ceil() as u32 * link::BIN;
        let mut t = t0;
        while t + secs(1) <= to {
            let ratio =
                |span: Duration| kbps(down.sum(t, t + span).offered, span) * 1e3 / new as f64;
            let worst_start = (3..=10)
                .map(|k| ratio(link::BIN * k))
                .fold(0.0_f64, f64::max);
            ratios.push((ratio(secs(1)), worst_start));
            t += link::BIN;
        }
        // A phase too short to judge a whole second in (a run cut short) says nothing.
        if ratios.is_empty() {
            continue;
        }
        let over: Vec<bool> = ratios
            .iter()
            .map(|(second, _)| *second > 1.0 + SETTLED_TOLERANCE)
            .collect();
        let step = |i: usize| (t0 - at + link::BIN * i as u32).as_secs_f64();
        let first_i = (ratios.iter()).position(|(second, start)| *second <= 1.0 && *start <= 1.0);
        let first = first_i.map(step);
        // After the last second over, the first step whose spans are within the tolerance,
        // and not before it first fitted.
        let after = over.iter().rposition(|o| *o).map_or(0, |i| i + 1);
        let after = after.max(first_i.unwrap_or(0));
        let settled = (after..ratios.len()).find(|&i| ratios[i].1 <= 1.0 + SETTLED_TOLERANCE);
        out.push(Recovery {
            at_s: at.as_secs_f64(),
            from_kbps: old as f64 / 1e3,
            to_kbps: new as f64 / 1e3,
            first_under_s: first,
            back_under_s: settled.map(step),
            over_share: over.iter().filter(|o| **o).count() as f64 / over.len().max(1) as f64,
        });
    }
    out
}

fn phases(
    profile: &Profile,
    down: &LinkLog,
    end: Duration,
    demand: &dyn Fn(Duration, Duration) -> Option<f64>,
) -> Vec<Phase> {
    steps(profile, end)
        .into_iter()
        .filter_map(|(from, to, rate)| {
            let capacity = rate? as f64 / 1e3;
            let measured = from + (to - from) / 2;
            let bin = down.sum(measured, to);
            let received = kbps(bin.delivered, to - measured);
            let demand = demand(measured, to);
            let possible = demand.map_or(capacity, |d| d.min(capacity));
            Some(Phase {
                span_s: [from.as_secs_f64(), to.as_secs_f64()],
                measured_from_s: measured.as_secs_f64(),
                capacity_kbps: capacity,
                sent_kbps: kbps(bin.offered, to - measured),
                received_kbps: received,
                demand_kbps: demand,
                utilization: received / capacity,
                utilization_of_possible: if possible > 0.0 {
                    received / possible
                } else {
                    1.0
                },
                media_kbps: received,
                media_utilization_of_possible: if possible > 0.0 {
                    received / possible
                } else {
                    1.0
                },
                dropped_percent: percent(bin.dropped_bytes, bin.offered),
            })
        })
        .collect()
}

/// Takes retransmissions, padding, RTCP and the rest out of each phase's received rate, by
/// their share of what the server sent over the phase's measured half (relay bins by kind).
fn media_only(phases: &mut [Phase], kinds: &[[u64; 5]]) {
    let bin = |s: f64| (s * 1e6 / link::BIN.as_micros() as f64) as usize;
    for p in phases {
        let mut sum = [0u64; 5];
        for k in kinds
            .iter()
            .take(bin(p.span_s[1]))
            .skip(bin(p.measured_from_s))
        {
            for (s, v) in sum.iter_mut().zip(k) {
                *s += v;
            }
        }
        let total: u64 = sum.iter().sum();
        if total == 0 {
            continue;
        }
        let share = sum[0] as f64 / total as f64;
        p.media_kbps = p.received_kbps * share;
        p.media_utilization_of_possible = p.utilization_of_possible * share;
    }
}

/// Every silence of a stream the bot received as participant `me`, within `[0, end]`.
fn silences(s: &BotStats, remote: &str, kind: StreamKind, end: Duration) -> Vec<Span> {
    let me = s.id.as_deref().unwrap_or_default();
    s.gap_logs
        .iter()
        .filter(|l| l.me == me && l.remote == remote && l.kind == kind)
        .flat_map(|l| {
            let from = l.first.unwrap_or(end);
            l.holes(Duration::ZERO, Span::new(from, end))
        })
        .collect()
}

fn audio(s: &BotStats, end: Duration) -> AudioReport {
    let (mut frames, mut missing) = (0, 0);
    let mut gaps = Vec::new();
    for r in &s.remotes {
        frames += r.audio.frames;
        missing += r.audio.frames_missing();
        gaps.extend(silences(s, &r.id, StreamKind::Audio, end));
    }
    let long: Vec<&Span> = gaps.iter().filter(|g| g.len() >= AUDIO_GAP).collect();
    AudioReport {
        loss_percent: percent(missing, frames + missing),
        gaps: long.len(),
        longest_gap_ms: gaps
            .iter()
            .map(|g| g.len().as_secs_f64() * 1e3)
            .fold(0.0, f64::max),
    }
}

fn teacher(s: &BotStats, teacher: &str, end: Duration) -> TeacherReport {
    let shown: Vec<&str> = s
        .remotes
        .iter()
        .filter(|r| r.id != teacher && r.tile.is_some())
        .map(|r| r.id.as_str())
        .collect();
    // By the server's word: each `bandwidth` holds until the next.
    let mut paused = Duration::ZERO;
    for (i, note) in s.bandwidth.iter().enumerate() {
        let until = s.bandwidth.get(i + 1).map_or(end, |n| n.at).max(note.at);
        let others_on = shown.iter().any(|id| !note.paused.iter().any(|p| p == id));
        if note.paused.iter().any(|p| p == teacher) && others_on {
            paused += until - note.at;
        }
    }
    // By the frames: a long teacher silence during which other cameras' frames kept coming.
    let holes = silences(s, teacher, StreamKind::Video, end);
    let others: Vec<Vec<Span>> = shown.iter().map(|id| camera_silences(s, id, end)).collect();
    let flowed: Vec<[f64; 2]> = holes
        .iter()
        .filter(|h| h.len() >= TEACHER_GAP && flowing(**h, &others) >= TEACHER_GAP)
        .map(|h| [h.from.as_secs_f64(), h.to.as_secs_f64()])
        .collect();
    TeacherReport {
        paused_while_others_shown_s: paused.as_secs_f64(),
        silences_while_others_flowed: flowed.len(),
        silences_s: flowed,
        longest_gap_ms: holes
            .iter()
            .map(|h| h.len().as_secs_f64() * 1e3)
            .fold(0.0, f64::max),
        pauses: s.remote(teacher).map_or(0, |r| r.pauses),
    }
}

/// When `remote`'s camera was silent at the bot, from the bot's start to `end`: before its
/// first frame too (a camera not received yet is not flowing), and throughout if none came.
fn camera_silences(s: &BotStats, remote: &str, end: Duration) -> Vec<Span> {
    let me = s.id.as_deref().unwrap_or_default();
    let all = Span::new(Duration::ZERO, end);
    s.gap_logs
        .iter()
        .find(|l| l.me == me && l.remote == remote && l.kind == StreamKind::Video)
        .map_or_else(|| vec![all], |l| l.holes(Duration::ZERO, all))
}

/// How long within `hole` at least one camera was not silent, given each one's silences.
fn flowing(hole: Span, cameras: &[Vec<Span>]) -> Duration {
    let mut all_silent = vec![hole];
    for silences in cameras {
        all_silent = all_silent
            .iter()
            .flat_map(|piece| covered(*piece, silences))
            .collect();
    }
    hole.len() - all_silent.iter().map(Span::len).sum::<Duration>()
}

/// The figure: capacity, what the server sent, what came through, the demand and the
/// server's estimate, Mbit/s over the run.
pub fn svg(r: &ImpairReport) -> String {
    let mid = |s: &Second| s.t + 0.5;
    let series = |f: &dyn Fn(&Second) -> Option<f64>| -> Vec<(f64, f64)> {
        r.seconds
            .iter()
            .filter_map(|s| Some((mid(s), f(s)? / 1e3)))
            .collect()
    };
    let capacity = r
        .link
        .profile
        .steps
        .iter()
        .filter_map(|(at, rate)| Some((at.as_secs_f64(), (*rate)? as f64 / 1e6)))
        .collect();
    let mut lines = vec![
        Series::steps("capacity", "#000000", capacity),
        Series::line(
            "sent by the server",
            "#d62728",
            series(&|s| Some(s.sent_kbps)),
        ),
        Series::line("received", "#1f77b4", series(&|s| Some(s.received_kbps))),
        Series::line(
            "server's estimate (GCC)",
            "#2ca02c",
            series(&|s| s.estimate_kbps),
        ),
    ];
    if r.has_twin {
        let mut demand = Series::line(
            "demand (unshaped twin)",
            "#7f7f7f",
            series(&|s| s.demand_kbps),
        );
        demand.dashed = true;
        lines.push(demand);
    }
    Plot {
        title: "impair: one student's downlink, RFC 8867 5.1 capacity profile".into(),
        x_label: "seconds".into(),
        y_label: "Mbit/s (IP + UDP)".into(),
        series: lines,
    }
    .to_svg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;

    /// A server that sends `rate(t)` in 1000-byte datagrams into `link`.
    fn drive(link: &mut Link, end: Duration, rate: impl Fn(Duration) -> f64) {
        let mut t = Duration::ZERO;
        while t < end {
            link.handle_datagram(t, 1000);
            let bits = 1028.0 * 8.0;
            t += Duration::from_secs_f64(bits / rate(t));
        }
    }

    #[test]
    fn recovery_is_the_first_second_under_the_new_capacity() {
        let profile = Profile::parse("0:2,10:1").expect("valid");
        let mut link = Link::new(LinkConfig::new(profile.clone()));
        // Sends 1.5 Mbit/s, and 0.8 from 11.5 s on.
        drive(&mut link, secs(20), |t| {
            if t < Duration::from_millis(11_500) {
                1.5e6
            } else {
                0.8e6
            }
        });
        let r = recoveries(&profile, link.log(), secs(20));
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].at_s, r[0].from_kbps, r[0].to_kbps),
            (10.0, 2000.0, 1000.0)
        );
        let back = r[0].back_under_s.expect("it got back");
        assert!((1.0..=1.6).contains(&back), "{back}");
        let first = r[0].first_under_s.expect("it got under");
        assert!(
            back <= first && first - back < 0.2,
            "settled within the tolerance a step before it fit: {back} {first}"
        );
        let none = phases(&profile, link.log(), secs(20), &|_, _| None);
        assert_eq!(none.len(), 2);
        // 1.5 of 2 Mbit/s; then 0.8 of 1.
        assert!((0.72..=0.78).contains(&none[0].utilization), "{none:?}");
        assert!((0.78..=0.82).contains(&none[1].utilization), "{none:?}");
        let with = phases(&profile, link.log(), secs(20), &|_, _| Some(1500.0));
        assert!(
            with[0].utilization_of_possible > 0.98,
            "the page asked for 1.5"
        );
    }

    #[test]
    fn a_second_whose_start_was_over_does_not_date_the_recovery_early() {
        let profile = Profile::parse("0:2,10:1").expect("valid");
        let mut link = Link::new(LinkConfig::new(profile.clone()));
        // 1.5 times the new capacity for 0.4 s after the drop, then 0.6 times: the second
        // from the drop averages 0.96 of it, and fits.
        drive(&mut link, secs(14), |t| {
            if t < Duration::from_millis(10_400) {
                1.5e6
            } else {
                0.6e6
            }
        });
        let r = recoveries(&profile, link.log(), secs(14));
        let first = r[0].first_under_s.expect("it got under");
        assert!(
            (0.3..=0.5).contains(&first),
            "under from 0.4 s (within the queue's 300 ms), not 0: {first}"
        );
        let back = r[0].back_under_s.expect("it got back");
        assert!((0.3..=0.5).contains(&back), "{back}");
    }

    #[test]
    fn a_quiet_100_ms_before_a_burst_does_not_date_the_recovery_either() {
        let profile = Profile::parse("0:2,10:1").expect("valid");
        let mut link = Link::new(LinkConfig::new(profile.clone()));
        // Over the link, a lull from 0.2 to 0.3 s after the drop, 2.5 times the link until
        // 0.5 s, then under for good: the second from the lull averages under (about 0.9),
        // and its first 100 ms fit too, but its first 300 ms do not.
        drive(&mut link, secs(14), |t| {
            let after = t.saturating_sub(secs(10)).as_secs_f64();
            match after {
                a if t < secs(10) || a < 0.2 => 1.5e6,
                a if a < 0.3 => 0.1e6,
                a if a < 0.5 => 2.5e6,
                _ => 0.6e6,
            }
        });
        let r = recoveries(&profile, link.log(), secs(14));
        let first = r[0].first_under_s.expect("it got under");
        assert!((0.5..=0.6).contains(&first), "not at the lull: {first}");
        let back = r[0].back_under_s.expect("it got back");
        assert!(back >= first, "{back} {first}");
    }

    #[test]
    fn a_server_that_never_slows_down_never_recovers() {
        let profile = Profile::parse("0:2,5:0.5").expect("valid");
        let mut link = Link::new(LinkConfig::new(profile.clone()));
        drive(&mut link, secs(10), |_| 1.5e6);
        let r = recoveries(&profile, link.log(), secs(10));
        assert_eq!(r[0].back_under_s, None);
        let report = ImpairReport {
            link: LinkConfig::new(profile.clone()),
            seconds: per_second(&profile, link.log(), secs(10), &|_, _| None),
            recoveries: r,
            phases: phases(&profile, link.log(), secs(10), &|_, _| None),
            audio: AudioReport::default(),
            teacher: TeacherReport::default(),
            pauses: 0,
            paused_s: 0.0,
            relay_overflow: 0,
            relay_send_errors: 0,
            relay_sent: 0,
            relay_late: 0,
            relay_late_max_ms: 0.0,
            relay_late_mean_ms: 0.0,
            has_twin: false,
        };
        let failures = report.failures();
        assert!(
            failures[0].starts_with("never stayed under 500 kbit/s"),
            "{failures:?}"
        );
        assert_eq!(report.seconds.len(), 10);
        assert!(report.seconds[7].dropped_percent > 50.0);
        assert!(svg(&report).contains("capacity"));
    }

    #[test]
    fn the_teacher_paused_alone_is_a_failure() {
        let mut s = BotStats {
            id: Some("p9".into()),
            ..BotStats::default()
        };
        for id in ["p0", "p1"] {
            let i = s.remote_index(id);
            s.remotes[i].tile = Some(crate::view::THUMBNAIL);
        }
        let ms = Duration::from_millis;
        s.handle_bandwidth(ms(1000), &["p1".into()], true);
        s.handle_bandwidth(ms(2000), &["p0".into(), "p1".into()], true);
        s.handle_bandwidth(ms(3000), &["p0".into()], true);
        s.handle_bandwidth(ms(3500), &[], false);
        let t = teacher(&s, "p0", secs(10));
        assert_eq!(t.paused_while_others_shown_s, 0.5);
        assert_eq!(t.pauses, 1);
    }

    /// A camera's frames at the bot, every 40 ms from `.0` to `.1` s except strictly inside
    /// the silent spans `.2`.
    type Camera<'a> = (f64, f64, &'a [(f64, f64)]);

    /// Bot `p9` showing teacher `p0` and students `p1`, `p2`, with these cameras.
    fn class(frames: [Camera; 3]) -> BotStats {
        let mut s = BotStats {
            id: Some("p9".into()),
            ..BotStats::default()
        };
        for (i, (from, to, silent)) in frames.into_iter().enumerate() {
            let id = format!("p{i}");
            let r = s.remote_index(&id);
            s.remotes[r].tile = Some(crate::view::THUMBNAIL);
            let log = s.gap_log_index("p9", &id, StreamKind::Video);
            let mut t = from;
            while t <= to {
                if !silent.iter().any(|&(a, b)| t > a && t < b) {
                    s.gap_logs[log].record(Duration::from_secs_f64(t));
                }
                t += 0.04;
            }
        }
        s
    }

    #[test]
    fn a_silence_of_the_whole_class_is_not_the_teacher_paused_alone() {
        // The server paused every camera from 10 to 25 s; the students' frames on their way
        // came just after the teacher's last, and one student's came back 0.3 s before hers.
        let s = class([
            (1.0, 40.0, &[(10.0, 25.3)]),
            (1.0, 40.0, &[(10.05, 25.0)]),
            (1.0, 40.0, &[(10.1, 25.1)]),
        ]);
        let t = teacher(&s, "p0", secs(40));
        assert_eq!(t.silences_while_others_flowed, 0, "{t:?}");
        assert!((15_000.0..15_400.0).contains(&t.longest_gap_ms), "{t:?}");
        // The teacher silent for 2 s while a student's camera flowed: that counts.
        let s = class([
            (1.0, 40.0, &[(10.0, 12.0)]),
            (1.0, 40.0, &[(9.0, 13.0)]),
            (1.0, 40.0, &[]),
        ]);
        let t = teacher(&s, "p0", secs(40));
        assert_eq!(t.silences_while_others_flowed, 1);
        let [from, to] = t.silences_s[0];
        assert!(
            (9.9..10.1).contains(&from) && (11.9..12.1).contains(&to),
            "{t:?}"
        );
        // A camera counts from its first frame on; one never received, not at all.
        let never = (1.0, 0.0, &[][..]);
        let s = class([(1.0, 40.0, &[(10.0, 12.0)]), (11.0, 40.0, &[]), never]);
        assert_eq!(
            teacher(&s, "p0", secs(40)).silences_while_others_flowed,
            1,
            "p1 flowed for a second of her silence"
        );
        let s = class([(1.0, 40.0, &[(10.0, 12.0)]), (11.8, 40.0, &[]), never]);
        assert_eq!(teacher(&s, "p0", secs(40)).silences_while_others_flowed, 0);
    }
}
