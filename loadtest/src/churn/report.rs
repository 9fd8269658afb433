//! What a churn run found: how the leavings and returns went, the renegotiations that failed
//! (the server's counter and what the bots saw), and the stayers' longest media gaps, each
//! blamed on someone else's churn, on the machine (other work held its cores), or on nothing.
//!
//! Pure: it reads the bots' final stats and the run's samples. Every bot's times go onto the
//! run's timeline through [`BotStats::epoch`]; see [`crate::gaps`] for how a gap is judged.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{ChurnSpec, Conducted, SETTLE, WARMUP};
use crate::Churn;
use crate::gaps::{Cause, GapLog, Span, StreamKind, stayer_gaps};
use crate::report::{Dist, Outcome, Sample};
use crate::server::Metrics;
use crate::stats::BotStats;

/// A stayer gap longer than this caused by someone else's churn fails the run: the issue's
/// bar, about where a pupil notices a frozen picture and a cut in the sound.
pub const MAX_STAYER_GAP: Duration = Duration::from_secs(1);

/// How many of the worst gaps are spelled out.
const MAX_EXAMPLES: usize = 5;

/// Leavings and returns of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChurnCounts {
    /// Started.
    pub started: usize,
    /// Back in the lesson before the run ended.
    pub back: usize,
    /// Resumes the server refused (`resume_failed`), which joined anew instead.
    pub fell_back: usize,
}

/// The churn section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    /// Events asked for per room per minute.
    pub per_room_per_min: f64,
    /// The share asked to resume.
    pub resume_share: f64,
    /// Events scheduled, sent, and skipped because the room's bots were all away.
    pub events: ConductedReport,
    /// Events bots refused (not joined, still away).
    pub refused: u64,
    /// Socket drops followed by `resume`.
    pub resumes: ChurnCounts,
    /// `leave` followed by a new `join`.
    pub rejoins: ChurnCounts,
    /// From the new socket's start to `joined` with `resumed`, ms.
    pub resume_ms: Dist,
    /// From the new socket's start to `joined` as a new participant (rejoins, and resumes that
    /// fell back), ms.
    pub rejoin_ms: Dist,
    /// From the new socket's start to the new publish connection's media flowing, ms.
    pub rejoin_media_ms: Dist,
    /// `aula_resumes_total` over the run, if the server counts it.
    pub server_resumes: Option<u64>,
    /// `aula_resumes_failed_total` over the run, if the server counts it.
    pub server_resumes_failed: Option<u64>,
    /// `aula_ice_restarts_total` over the run, if the server counts it.
    pub server_ice_restarts: Option<u64>,
    /// `aula_renegotiations_failed_total` over the run, if the server counts it.
    pub renegotiations_failed_server: Option<u64>,
    /// Negotiations that failed as the bots saw them (`subscribe_failed` sent, answers str0m
    /// refused, `bad_sdp`).
    pub renegotiations_failed_bots: u64,
    /// Subscribe offers with `reset` the bots got.
    pub subscribe_resets: u64,
    /// (subscriber, publisher) pairs of participants present together after the warm-up.
    pub pairs: usize,
    /// Per pair, the longest silence on any of the publisher's streams while neither side of
    /// the pair was churning, ms: 0 if none of [`NOTE_GAP`](crate::gaps::NOTE_GAP) or more
    /// (what is left of one cut by the pair's own churn may be shorter).
    pub longest_gap_ms: Dist,
    /// Pairs with such a silence over [`MAX_STAYER_GAP`] during someone else's churn.
    pub gaps_over_1s_by_churn: usize,
    /// Pairs with such a silence over [`MAX_STAYER_GAP`] when nobody in the room churned.
    pub gaps_over_1s_unexplained: usize,
    /// Pairs with such a silence over [`MAX_STAYER_GAP`] while other work held the machine:
    /// not judged, as the server and the bots did not run.
    pub gaps_over_1s_starved: usize,
    /// The seconds in which other work held the machine (see `starved`), from the run's start.
    pub starved_s: Vec<[f64; 2]>,
    /// The longest stayer gaps, spelled out.
    pub worst_gaps: Vec<String>,
}

/// [`Conducted`], serializable.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConductedReport {
    /// In the schedule.
    pub planned: usize,
    /// Sent to a bot.
    pub sent: usize,
    /// Dropped because every bot of the room was away.
    pub skipped: usize,
}

/// One bot on the run's timeline.
struct BotView<'a> {
    name: &'a str,
    room: usize,
    /// Which streams it publishes: audio, video.
    streams: Vec<StreamKind>,
    stats: &'a BotStats,
    /// Its offsets plus this are the run's time.
    shift: Duration,
    /// Each participant it was, and when.
    presences: Vec<(&'a str, Span)>,
    /// Its churns, from leaving to settled after coming back.
    windows: Vec<Span>,
}

impl<'a> BotView<'a> {
    fn of(o: &'a Outcome, start: Instant, end: Duration) -> Option<BotView<'a>> {
        let stats = &o.report.as_ref()?.stats;
        let shift = stats
            .epoch?
            .checked_duration_since(start)
            .unwrap_or_default();
        let clip = |d: Duration| (d + shift).min(end);
        let presences = stats
            .presences
            .iter()
            .map(|p| {
                let left = p.left.map_or(end, clip);
                (p.id.as_str(), Span::new(clip(p.joined), left))
            })
            .collect();
        let windows = stats
            .churns
            .iter()
            .map(|c| {
                let settled = c.back.map_or(end, |b| clip(b + SETTLE));
                Span::new(clip(c.started), settled)
            })
            .collect();
        let media = o.plan.media;
        let streams = [
            (media.audio, StreamKind::Audio),
            (media.video.is_some(), StreamKind::Video),
        ];
        Some(BotView {
            name: &o.plan.name,
            room: o.plan.room,
            streams: streams.into_iter().filter(|s| s.0).map(|s| s.1).collect(),
            stats,
            shift,
            presences,
            windows,
        })
    }
}

/// The stayer gaps of every pair of a run, tallied.
#[derive(Default)]
struct GapTally {
    /// Per pair, its longest, ms.
    longest: Vec<f64>,
    /// Pairs with one over [`MAX_STAYER_GAP`], by what it is put down to.
    by_churn: usize,
    by_machine: usize,
    unexplained: usize,
    /// The longest few, spelled out, longest first.
    worst: Vec<(Duration, String)>,
}

impl GapTally {
    /// Every subscriber against every publisher of its room, after `measured.from`.
    fn of(bots: &[BotView], measured: Span, starved: &[Span]) -> GapTally {
        let mut tally = GapTally::default();
        for (s, sub) in bots.iter().enumerate() {
            for (p, publ) in bots.iter().enumerate() {
                if s != p && sub.room == publ.room && !publ.streams.is_empty() {
                    for gap in pair_gaps(bots, s, p, measured, starved) {
                        tally.add(bots, s, p, &gap);
                    }
                }
            }
        }
        tally.worst.sort_by_key(|w| std::cmp::Reverse(w.0));
        tally.worst.truncate(MAX_EXAMPLES);
        tally
    }

    fn add(&mut self, bots: &[BotView], s: usize, p: usize, gap: &PairGap) {
        self.longest.push(ms(gap.len));
        if gap.len > MAX_STAYER_GAP {
            match gap.blame {
                Blame::Churn(_) => self.by_churn += 1,
                Blame::Machine => self.by_machine += 1,
                Blame::Nothing => self.unexplained += 1,
            }
        }
        if !gap.len.is_zero() {
            self.worst.push((gap.len, describe(bots, s, p, gap)));
        }
    }
}

/// The worst gap of one pair.
struct PairGap {
    len: Duration,
    span: Span,
    kind: Option<StreamKind>,
    blame: Blame,
}

/// What a pair's worst gap is put down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blame {
    /// The churn of this bot (an index into the bots).
    Churn(usize),
    /// Other work held the machine.
    Machine,
    /// Nobody churned and the machine was ours.
    Nothing,
}

impl ChurnReport {
    /// Summarizes a churn run that started at `start`, its bots' start spread over `ramp`.
    pub fn build(
        spec: &ChurnSpec,
        conducted: Conducted,
        outcomes: &[Outcome],
        samples: &[Sample],
        start: Instant,
        ramp: Duration,
    ) -> ChurnReport {
        let end = samples.last().map_or(Duration::ZERO, |s| s.at);
        let bots: Vec<BotView> = outcomes
            .iter()
            .filter_map(|o| BotView::of(o, start, end))
            .collect();
        let measured = Span::new(ramp + WARMUP, end);
        let starved = starved(samples);
        let gaps = GapTally::of(&bots, measured, &starved);
        let all = || bots.iter().map(|b| b.stats);
        let (counter_from, counter_to) = counters(samples);
        let delta = |f: fn(&Metrics) -> Option<u64>| {
            Some(f(&counter_to?)?.saturating_sub(f(&counter_from?)?))
        };
        ChurnReport {
            per_room_per_min: spec.per_min,
            resume_share: spec.resume_share,
            events: ConductedReport {
                planned: conducted.planned,
                sent: conducted.sent,
                skipped: conducted.skipped,
            },
            refused: all().map(|s| u64::from(s.churns_refused)).sum(),
            resumes: counts(all(), Churn::Resume),
            rejoins: counts(all(), Churn::Rejoin),
            resume_ms: latencies(all(), |c| c.how == Churn::Resume && !c.fell_back),
            rejoin_ms: latencies(all(), |c| c.how == Churn::Rejoin || c.fell_back),
            rejoin_media_ms: Dist::of(
                all()
                    .flat_map(|s| &s.churns)
                    .filter(|c| c.how == Churn::Rejoin || c.fell_back)
                    .filter_map(|c| Some(ms(c.back?.saturating_sub(c.reconnecting?))))
                    .collect(),
            ),
            server_resumes: delta(|m| m.resumes),
            server_resumes_failed: delta(|m| m.resumes_failed),
            server_ice_restarts: delta(|m| m.ice_restarts),
            renegotiations_failed_server: delta(|m| m.renegotiations_failed),
            renegotiations_failed_bots: all().map(|s| u64::from(s.renegotiations_failed)).sum(),
            subscribe_resets: all().map(|s| u64::from(s.subscribe_resets)).sum(),
            pairs: gaps.longest.len(),
            longest_gap_ms: Dist::of(gaps.longest),
            gaps_over_1s_by_churn: gaps.by_churn,
            gaps_over_1s_unexplained: gaps.unexplained,
            gaps_over_1s_starved: gaps.by_machine,
            starved_s: starved
                .iter()
                .map(|s| [s.from.as_secs_f64(), s.to.as_secs_f64()])
                .collect(),
            worst_gaps: gaps.worst.into_iter().map(|w| w.1).collect(),
        }
    }

    /// Failed renegotiations: the larger of the server's count and the bots' (both see most
    /// failures: a `subscribe_failed` a bot sends is counted on both sides).
    pub fn renegotiations_failed(&self) -> u64 {
        let server = self.renegotiations_failed_server.unwrap_or(0);
        server.max(self.renegotiations_failed_bots)
    }

    /// Churns that never came back before the run ended.
    pub fn not_back(&self) -> usize {
        let (r, j) = (self.resumes, self.rejoins);
        (r.started - r.back) + (j.started - j.back)
    }

    /// What fails the run, as phrases for the verdict line; empty when nothing does.
    pub fn failures(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if self.renegotiations_failed() > 0 {
            let server = self.renegotiations_failed_server.unwrap_or(0);
            let bots = self.renegotiations_failed_bots;
            failed.push(format!(
                "failed renegotiations (server {server}, bots {bots})"
            ));
        }
        if self.gaps_over_1s_by_churn > 0 {
            failed.push(format!(
                "{} stayer pairs with a gap over 1 s during someone else's churn",
                self.gaps_over_1s_by_churn
            ));
        }
        if self.not_back() > 0 {
            failed.push(format!("{} churners never came back", self.not_back()));
        }
        failed
    }

    /// The churn part of the verdict line.
    pub fn summary(&self) -> String {
        let p95 = |d: &Dist| d.p95.map_or("-".into(), |v| format!("{v:.0} ms"));
        let mut line = format!(
            "{} churns ({} resumes, p95 {}; {} rejoins, p95 {}), {} failed renegotiations, \
             longest stayer gap {:.2} s",
            self.resumes.started + self.rejoins.started,
            self.resumes.started,
            p95(&self.resume_ms),
            self.rejoins.started,
            p95(&self.rejoin_ms),
            self.renegotiations_failed(),
            self.longest_gap_ms.max.unwrap_or(0.0) / 1e3,
        );
        if self.renegotiations_failed_server.is_none() {
            line.push_str(" (the server has no renegotiation counter)");
        }
        if self.gaps_over_1s_starved > 0 {
            line.push_str(&format!(
                "; {} pairs with a gap over 1 s while other work held the machine (not judged)",
                self.gaps_over_1s_starved
            ));
        }
        if self.gaps_over_1s_unexplained > 0 {
            line.push_str(&format!(
                "; {} pairs with a gap over 1 s when nobody churned (not judged)",
                self.gaps_over_1s_unexplained
            ));
        }
        line
    }
}

/// The worst stayer gap of each presence pair of subscriber `s` and publisher `p`: one entry
/// per pair of participants that were in the room together after the warm-up.
fn pair_gaps(
    bots: &[BotView],
    s: usize,
    p: usize,
    measured: Span,
    starved: &[Span],
) -> Vec<PairGap> {
    let (sub, publ) = (&bots[s], &bots[p]);
    let own: Vec<Span> = sub.windows.iter().chain(&publ.windows).copied().collect();
    let mut owners = Vec::new();
    let mut others = Vec::new();
    for (i, b) in bots.iter().enumerate() {
        if i != s && i != p && b.room == sub.room {
            owners.extend(std::iter::repeat_n(i, b.windows.len()));
            others.extend(&b.windows);
        }
    }
    let mut pairs = Vec::new();
    for (me, me_span) in &sub.presences {
        for (them, them_span) in &publ.presences {
            let present = me_span.intersect(them_span);
            if present.intersect(&measured).is_empty() {
                continue;
            }
            let mut worst = PairGap {
                len: Duration::ZERO,
                span: present,
                kind: None,
                blame: Blame::Nothing,
            };
            for kind in &publ.streams {
                let log = sub
                    .stats
                    .gap_logs
                    .iter()
                    .find(|l| l.me == *me && l.remote == *them && l.kind == *kind);
                let holes = match log {
                    // A camera the subscriber's page did not show is silent by its choice.
                    Some(log) if log.hidden_by_view => continue,
                    Some(log) => log.holes(sub.shift, present),
                    None => GapLog::new(me, them, *kind).holes(sub.shift, present),
                };
                let Some(gap) = stayer_gaps(&holes, measured, &own, &others, starved)
                    .into_iter()
                    .next()
                else {
                    continue;
                };
                if gap.span.len() > worst.len {
                    worst = PairGap {
                        len: gap.span.len(),
                        span: gap.span,
                        kind: Some(*kind),
                        blame: match gap.cause {
                            Cause::OthersChurn(w) => Blame::Churn(owners[w]),
                            Cause::Starved => Blame::Machine,
                            Cause::Unexplained => Blame::Nothing,
                        },
                    };
                }
            }
            pairs.push(worst);
        }
    }
    pairs
}

/// One gap in words: who missed whom, how long, when, and whose churn it overlapped.
fn describe(bots: &[BotView], s: usize, p: usize, gap: &PairGap) -> String {
    let why = match gap.blame {
        Blame::Churn(b) => format!("during {}'s churn", bots[b].name),
        Blame::Machine => "while other work held the machine".to_owned(),
        Blame::Nothing => "nobody churning".to_owned(),
    };
    let kind = match gap.kind {
        Some(StreamKind::Audio) => "audio",
        Some(StreamKind::Video) => "video",
        None => "media",
    };
    format!(
        "{} from {} ({kind}): {:.2} s at {:.1}-{:.1} s, {why}",
        bots[s].name,
        bots[p].name,
        gap.len.as_secs_f64(),
        gap.span.from.as_secs_f64(),
        gap.span.to.as_secs_f64()
    )
}

fn counts<'a>(stats: impl Iterator<Item = &'a BotStats>, how: Churn) -> ChurnCounts {
    let mut c = ChurnCounts::default();
    for churn in stats.flat_map(|s| &s.churns).filter(|c| c.how == how) {
        c.started += 1;
        c.back += usize::from(churn.back.is_some());
        c.fell_back += usize::from(churn.fell_back);
    }
    c
}

fn latencies<'a>(
    stats: impl Iterator<Item = &'a BotStats>,
    which: impl Fn(&crate::stats::ChurnRecord) -> bool,
) -> Dist {
    let values = stats
        .flat_map(|s| &s.churns)
        .filter(|c| which(c))
        .filter_map(|c| c.latency().map(ms))
        .collect();
    Dist::of(values)
}

/// The spans in which other work held the machine: its cores were at least [`BUSY`] busy
/// while the server and the bots together got less than half the CPU they use in a median
/// second. They always have work (50 frames a second each way per bot), so that is no lull;
/// and a server stuck on its own would leave the machine idle, not busy.
fn starved(samples: &[Sample]) -> Vec<Span> {
    let seconds: Vec<(Span, f64, f64)> = samples
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (&w[0], &w[1]);
            let busy = b.machine?.busy_since(&a.machine?)?;
            let ours =
                |s: &Sample| Some(s.server.map_or(Duration::ZERO, |p| p.cpu) + s.loadtest?.cpu);
            let wall = b.at.checked_sub(a.at).filter(|w| !w.is_zero())?;
            let used = ours(b)?.saturating_sub(ours(a)?).as_secs_f64() / wall.as_secs_f64();
            Some((Span::new(a.at, b.at), busy, used))
        })
        .collect();
    let mut used: Vec<f64> = seconds.iter().map(|s| s.2).collect();
    used.sort_by(f64::total_cmp);
    let Some(median) = used.get(used.len() / 2).copied() else {
        return Vec::new();
    };
    seconds
        .into_iter()
        .filter(|(_, busy, used)| *busy >= BUSY && *used < median / 2.0)
        .map(|(span, ..)| span)
        .collect()
}

/// A machine this busy (of all its cores) has no room for the run.
const BUSY: f64 = 0.9;

/// The server's counters at the first and the last sample that has them.
fn counters(samples: &[Sample]) -> (Option<Metrics>, Option<Metrics>) {
    let mut with = samples.iter().filter_map(|s| s.metrics);
    let first = with.next();
    (first, with.next_back().or(first))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
