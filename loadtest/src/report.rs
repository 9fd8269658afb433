//! What a run found: join phases, failures by cause, media quality per subscriber, the server's
//! CPU, memory and packet rate, the loadtest's own CPU, and for a churn run its own section
//! ([`ChurnReport`]), summarized in a [`Report`] that prints as a table and serializes to the
//! same fields in JSON, ending in a verdict.
//!
//! Pure: it summarizes the bots' final stats and the per-second samples a run collected.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio_tungstenite::tungstenite;

use crate::churn::ChurnReport;
use crate::procstat::{MachineSample, ProcSample, cpu_percent};
use crate::scenario::{BotPlan, Kind, Scenario};
use crate::server::{Metrics, ServerUnderTest};
use crate::stats::{BotStats, DelayStats};
use crate::{BotError, BotReport};

/// Frames missing, over all subscribers, above which a run fails: beyond a few percent a
/// video lesson visibly stutters.
pub const MAX_LOSS_PERCENT: f64 = 2.0;

/// One reading taken during a run, every second.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Since the run started.
    pub at: Duration,
    /// The server process, if measured and alive.
    pub server: Option<ProcSample>,
    /// This process.
    pub loadtest: Option<ProcSample>,
    /// The whole machine.
    pub machine: Option<MachineSample>,
    /// The server's counters, if it has `/metrics`.
    pub metrics: Option<Metrics>,
    /// Bots started.
    pub started: usize,
    /// Bots that have their `joined`.
    pub joined: usize,
    /// Bots whose task ended early (failed).
    pub ended: usize,
    /// Datagrams all bots received on their subscribe connections.
    pub datagrams_received: u64,
}

impl Sample {
    /// The live line: elapsed, joins, failures, server and loadtest CPU since `prev`.
    pub fn progress_line(&self, total: usize, prev: Option<&Sample>) -> String {
        let wall = prev.map_or(Duration::ZERO, |p| self.at.saturating_sub(p.at));
        let cpu = |now: Option<ProcSample>, before: Option<ProcSample>| match (before, now) {
            (Some(b), Some(n)) => format!("{:.0} %", cpu_percent(&b, &n, wall)),
            _ => "-".to_owned(),
        };
        let server_rss = self
            .server
            .map_or("-".to_owned(), |s| format!("{:.0} MiB", mib(s.rss_bytes)));
        format!(
            "[{:>4}s] started {}/{total}, joined {}, failed {} | server CPU {}, RSS {} | loadtest CPU {}",
            self.at.as_secs(),
            self.started,
            self.joined,
            self.ended,
            cpu(self.server, prev.and_then(|p| p.server)),
            server_rss,
            cpu(self.loadtest, prev.and_then(|p| p.loadtest)),
        )
    }
}

/// A planned bot and how it ended (`None`: it did not report in time).
#[derive(Debug)]
pub struct Outcome {
    /// What it was meant to do.
    pub plan: BotPlan,
    /// Its final report.
    pub report: Option<BotReport>,
}

/// Percentiles of a set of values, `None` when the set is empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Dist {
    /// Values.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Dist {
    /// Nearest-rank percentiles of `values`.
    pub fn of(mut values: Vec<f64>) -> Dist {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let rank =
            |p: f64| (n > 0).then(|| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1]);
        Dist {
            count: n,
            p50: rank(0.5),
            p95: rank(0.95),
            p99: rank(0.99),
            max: values.last().copied(),
            mean: (n > 0).then(|| values.iter().sum::<f64>() / n as f64),
        }
    }
}

/// Join phases in milliseconds from the bot's start.
#[derive(Debug, Clone, Serialize)]
pub struct Joins {
    /// Bots planned.
    pub planned: usize,
    /// Bots that got `joined`.
    pub joined: usize,
    /// WebSocket handshake done.
    pub ws_open_ms: Dist,
    /// `joined` received.
    pub joined_ms: Dist,
    /// Every WebRTC connection the bot needs reached ICE connected.
    pub ice_connected_ms: Dist,
    /// The first remote media frame arrived (bots that receive).
    pub first_media_ms: Dist,
}

/// Media as the subscribers received it.
#[derive(Debug, Clone, Serialize)]
pub struct MediaReport {
    /// Bots expected to receive (joined, with a publisher in the room besides themselves).
    pub subscribers: usize,
    /// (subscriber, publisher) pairs expected to carry media.
    pub pairs: usize,
    /// Of those, pairs where a track of the publisher never arrived.
    pub pairs_without_media: usize,
    /// Received bitrate per subscriber, kbit/s, from its first frame (or its latest join) to
    /// the end.
    pub bitrate_kbps: Dist,
    /// Frames missing per subscriber (gaps in the senders' frame numbers), percent.
    pub loss_percent: Dist,
    /// Frames missing over all subscribers, percent.
    pub loss_percent_total: f64,
    /// Mean variation of one-way delay between consecutive frames per subscriber, ms.
    pub jitter_ms: Dist,
    /// One-way delay send stamp -> receive, over all frames (bots share the clock), ms: what
    /// the SFU and this machine's scheduling add.
    pub delay_ms: DelayReport,
}

/// A delay summary over all frames.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DelayReport {
    /// Frames measured.
    pub frames: u64,
    /// Mean.
    pub mean: Option<f64>,
    /// Median (upper bound, within a factor of two).
    pub p50: Option<f64>,
    /// 99th percentile (upper bound, within a factor of two).
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

/// The server process and its traffic, over the steady window (all bots started and settled).
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// The process measured, if any.
    pub pid: Option<u32>,
    /// Where the window starts and ends, seconds from the run's start.
    pub window_s: [f64; 2],
    /// User + system CPU over the window, percent of one core.
    pub cpu_percent: Option<f64>,
    /// The highest one-second CPU during the whole run.
    pub cpu_percent_peak: Option<f64>,
    /// RSS before the first bot, MiB.
    pub rss_mib_start: Option<f64>,
    /// Highest RSS sampled, MiB.
    pub rss_mib_max: Option<f64>,
    /// (RSS at the window's end - RSS before the first bot) / participants joined, KiB.
    pub rss_kib_per_participant: Option<f64>,
    /// Where packet counts come from: `server /metrics`, or `bots` (datagrams the bots
    /// received, for servers without Aula's metrics).
    pub packets_source: &'static str,
    /// Packets forwarded per second (UDP datagrams out, or received by bots).
    pub forwarded_packets_per_s: Option<f64>,
    /// Frames forwarded per second (`/metrics` only).
    pub frames_forwarded_per_s: Option<f64>,
    /// Server CPU per forwarded packet, µs.
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Whether the process was still there at the end.
    pub alive_at_end: Option<bool>,
    /// `[seconds, MiB]` every second.
    pub rss_mib_samples: Vec<[f64; 2]>,
    /// `[seconds, percent]` for each second.
    pub cpu_percent_samples: Vec<[f64; 2]>,
}

/// The loadtest process itself.
#[derive(Debug, Clone, Serialize)]
pub struct LoadtestReport {
    /// CPU over the same window, percent of one core.
    pub cpu_percent: Option<f64>,
    /// That per bot started.
    pub cpu_percent_per_bot: Option<f64>,
    /// RSS at the end, MiB.
    pub rss_mib: Option<f64>,
    /// CPU every other process on the machine used over the same window, percent of one core:
    /// the machine's busy time less the server's and this process's. On a shared machine, what
    /// the figures above competed with.
    pub others_cpu_percent: Option<f64>,
}

/// Which scenario ran.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Its kind.
    pub kind: Kind,
    /// Participants per room.
    pub room_sizes: Vec<usize>,
    /// Bots that publish.
    pub publishers: usize,
    /// Seconds after the last start.
    pub duration_s: f64,
    /// The seed.
    pub seed: u64,
    /// The server's URL.
    pub server: String,
}

/// The verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Every bot joined and got media from every publisher, and the server stayed up.
    pub ok: bool,
    /// The one line, e.g. `VERDICT: ok — 300/300 joined, …`.
    pub line: String,
}

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What ran.
    pub scenario: ScenarioReport,
    /// Join phases.
    pub joins: Joins,
    /// Bots that failed, by cause (one cause per bot: the first thing that went wrong).
    pub failures: BTreeMap<String, usize>,
    /// The first few failures with the bot's name and the full error.
    pub failure_examples: Vec<String>,
    /// Media.
    pub media: MediaReport,
    /// Server.
    pub server: ServerReport,
    /// This process.
    pub loadtest: LoadtestReport,
    /// Leavings and returns, and what the stayers saw meanwhile (churn runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnReport>,
    /// The verdict.
    pub verdict: Verdict,
}

/// How many failures are spelled out.
const MAX_EXAMPLES: usize = 10;
/// How many of them may share a cause.
const EXAMPLES_PER_CAUSE: usize = 3;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One word for why a bot could not join or stay.
pub fn cause(e: &BotError) -> String {
    match e {
        BotError::Connect { source, .. } => match source.as_ref() {
            tungstenite::Error::Http(r) => format!("http {}", r.status().as_u16()),
            _ => "connect failed".into(),
        },
        BotError::WebSocket(_) => "websocket broke".into(),
        BotError::Closed(Some((code, _))) => format!("websocket close {code}"),
        BotError::Closed(None) => "websocket closed".into(),
        BotError::Refused { code, .. } => format!("refused {code}"),
        BotError::JoinTimeout(_) => "timeout (join)".into(),
        BotError::Protocol(_) => "protocol".into(),
        BotError::Rtc(_) => "webrtc".into(),
        BotError::Io(_) => "udp socket".into(),
        BotError::Panicked(_) => "bot panicked".into(),
    }
}

/// A joined bot with what it publishes, for matching subscribers to publishers.
struct Joined<'a> {
    room: usize,
    id: &'a str,
    plan: &'a BotPlan,
}

impl Report {
    /// Summarizes a run; `churn` is the churn section, built from the same outcomes.
    pub fn build(
        spec: &Scenario,
        server: &ServerUnderTest,
        outcomes: &[Outcome],
        samples: &[Sample],
        churn: Option<ChurnReport>,
    ) -> Report {
        let end = samples.last().map_or(Duration::ZERO, |s| s.at);
        let joined: Vec<Joined> = outcomes
            .iter()
            .filter_map(|o| {
                let id = o.report.as_ref()?.stats.id.as_deref()?;
                Some(Joined {
                    room: o.plan.room,
                    id,
                    plan: &o.plan,
                })
            })
            .collect();
        let mut failures = BTreeMap::new();
        let mut examples = Vec::new();
        let mut media = MediaAcc::default();
        let mut phases: [Vec<f64>; 4] = Default::default();
        for o in outcomes {
            let failure = judge(o, &joined, end, &mut media, &mut phases);
            if let Some((cause, detail)) = failure {
                let n = failures.entry(cause).or_insert(0);
                *n += 1;
                // A few of each cause, so a rare one is not hidden behind a common one.
                if *n <= EXAMPLES_PER_CAUSE && examples.len() < MAX_EXAMPLES {
                    examples.push(format!("{}: {detail}", o.plan.name));
                }
            }
        }
        let [ws, jn, ice, first] = phases;
        let joins = Joins {
            planned: outcomes.len(),
            joined: joined.len(),
            ws_open_ms: Dist::of(ws),
            joined_ms: Dist::of(jn),
            ice_connected_ms: Dist::of(ice),
            first_media_ms: Dist::of(first),
        };
        let server_report = server_report(spec, server, samples, joined.len());
        let loadtest = loadtest_report(spec, samples, outcomes.len());
        let mut report = Report {
            scenario: ScenarioReport {
                kind: spec.kind,
                room_sizes: spec.room_sizes(),
                publishers: outcomes.iter().filter(|o| o.plan.media.publishes()).count(),
                duration_s: spec.duration.as_secs_f64(),
                seed: spec.seed,
                server: server.url.http_base(),
            },
            joins,
            failures,
            failure_examples: examples,
            media: media.finish(),
            server: server_report,
            loadtest,
            churn,
            verdict: Verdict {
                ok: false,
                line: String::new(),
            },
        };
        report.verdict = report.judge();
        report
    }

    /// Fails the run above [`MAX_LOSS_PERCENT`] too: everyone joined and got something is
    /// not a lesson that worked if a tenth of the picture is missing. A churn run also fails
    /// on what [`ChurnReport::failures`] names.
    fn judge(&self) -> Verdict {
        let failed: usize = self.failures.values().sum();
        let server_gone = self.server.alive_at_end == Some(false);
        let lossy = self.media.loss_percent_total > MAX_LOSS_PERCENT;
        let churn_failures = self.churn.as_ref().map(ChurnReport::failures);
        let churned = churn_failures.as_ref().is_none_or(Vec::is_empty);
        let ok = failed == 0
            && !server_gone
            && !lossy
            && churned
            && self.joins.joined == self.joins.planned;
        let join = self
            .joins
            .first_media_ms
            .p95
            .map(|v| format!("p95 first media {v:.0} ms"))
            .or_else(|| {
                self.joins
                    .joined_ms
                    .p95
                    .map(|v| format!("p95 joined {v:.0} ms"))
            })
            .unwrap_or_else(|| "no joins".into());
        let cpu = self
            .server
            .cpu_percent
            .map_or("server CPU not measured".into(), |c| {
                format!("server CPU {c:.0} %")
            });
        let mut line = format!(
            "{}/{} joined, {join}, loss {:.2} %, {cpu}",
            self.joins.joined, self.joins.planned, self.media.loss_percent_total
        );
        if let Some(churn) = &self.churn {
            line.push_str(&format!("; {}", churn.summary()));
        }
        if !ok {
            for failure in churn_failures.into_iter().flatten() {
                line.push_str(&format!("; {failure}"));
            }
            let causes: Vec<String> = self
                .failures
                .iter()
                .map(|(c, n)| format!("{n} {c}"))
                .collect();
            if !causes.is_empty() {
                line.push_str(&format!("; failed: {}", causes.join(", ")));
            }
            if server_gone {
                line.push_str("; the server process died");
            }
            if lossy {
                line.push_str(&format!("; loss above {MAX_LOSS_PERCENT} %"));
            }
        }
        let head = if ok {
            "VERDICT: ok — "
        } else {
            "VERDICT: FAIL — "
        };
        Verdict {
            ok,
            line: format!("{head}{line}"),
        }
    }
}

/// Collects media figures over subscribers.
#[derive(Default)]
struct MediaAcc {
    subscribers: usize,
    pairs: usize,
    pairs_without_media: usize,
    bitrate: Vec<f64>,
    loss: Vec<f64>,
    jitter: Vec<f64>,
    frames: u64,
    missing: u64,
    delay: DelayStats,
}

impl MediaAcc {
    fn finish(self) -> MediaReport {
        let total = self.frames + self.missing;
        let d = &self.delay;
        let to_ms = |d: Option<Duration>| d.map(ms);
        MediaReport {
            subscribers: self.subscribers,
            pairs: self.pairs,
            pairs_without_media: self.pairs_without_media,
            bitrate_kbps: Dist::of(self.bitrate),
            loss_percent: Dist::of(self.loss),
            loss_percent_total: if total == 0 {
                0.0
            } else {
                self.missing as f64 * 100.0 / total as f64
            },
            jitter_ms: Dist::of(self.jitter),
            delay_ms: DelayReport {
                frames: d.count,
                mean: to_ms(d.mean()),
                p50: to_ms(d.percentile(0.5)),
                p99: to_ms(d.percentile(0.99)),
                max: (d.count > 0).then(|| d.max_us as f64 / 1e3),
            },
        }
    }
}

/// Judges one bot: records its join phases and media, and returns its failure (cause, detail).
fn judge(
    o: &Outcome,
    joined: &[Joined],
    end: Duration,
    media: &mut MediaAcc,
    phases: &mut [Vec<f64>; 4],
) -> Option<(String, String)> {
    let Some(report) = &o.report else {
        return Some(("no report (stuck)".into(), "did not leave in time".into()));
    };
    let s = &report.stats;
    let Some(me) = s.id.as_deref() else {
        return Some(match &report.error {
            Some(e) => (cause(e), e.chain()),
            None => ("never joined".into(), "no joined".into()),
        });
    };
    let publishers: Vec<&Joined> = joined
        .iter()
        .filter(|j| j.room == o.plan.room && j.id != me && j.plan.media.publishes())
        .collect();
    let receives = !publishers.is_empty();
    for (phase, at) in phases.iter_mut().zip([s.ws_open, s.joined]) {
        phase.extend(at.map(ms));
    }
    let pub_ice = o.plan.media.publishes().then_some(s.publish_ice_connected);
    let sub_ice = receives.then_some(s.subscribe_ice_connected);
    let needed: Vec<Option<Duration>> = pub_ice.into_iter().chain(sub_ice).collect();
    let ice = needed
        .iter()
        .copied()
        .try_fold(Duration::ZERO, |m, t| t.map(|t| m.max(t)));
    phases[2].extend(ice.filter(|_| !needed.is_empty()).map(ms));
    phases[3].extend(s.first_media.map(ms));
    let mut failure = report
        .error
        .as_ref()
        .map(|e| (format!("left early: {}", cause(e)), e.chain()));
    if receives {
        let without = record_media(s, &publishers, end.saturating_sub(o.plan.start), media);
        if without > 0 && failure.is_none() {
            failure = Some((
                "no media from a publisher".into(),
                format!("{without} publishers"),
            ));
        }
    }
    if ice.is_none() && failure.is_none() {
        let errors = s.errors.join("; ");
        failure = Some((
            "ice failure".into(),
            format!("ice never connected {errors}"),
        ));
    }
    failure
}

/// Adds one subscriber's media; returns how many publishers it got nothing (on some track) from.
fn record_media(s: &BotStats, publishers: &[&Joined], end: Duration, acc: &mut MediaAcc) -> usize {
    acc.subscribers += 1;
    let (mut bytes, mut frames, mut missing, mut without) = (0u64, 0u64, 0u64, 0);
    let mut delay = DelayStats::default();
    for p in publishers {
        acc.pairs += 1;
        let remote = s.remote(p.id);
        let streams = [
            (p.plan.media.audio, remote.map(|r| &r.audio)),
            (p.plan.media.video.is_some(), remote.map(|r| &r.video)),
        ];
        let mut ok = true;
        for (expected, stream) in streams {
            let Some(stream) = stream.filter(|_| expected) else {
                ok &= !expected;
                continue;
            };
            ok &= stream.frames > 0;
            bytes += stream.bytes;
            frames += stream.frames;
            missing += stream.frames_missing();
            delay.merge(&stream.delay);
        }
        without += usize::from(!ok);
    }
    acc.pairs_without_media += without;
    // A bot that rejoined counts its remotes' bytes from its latest join.
    let from = s.first_media.max(s.presences.last().map(|p| p.joined));
    let window = from.map_or(Duration::ZERO, |f| end.saturating_sub(f));
    if !window.is_zero() {
        acc.bitrate
            .push(bytes as f64 * 8.0 / window.as_secs_f64() / 1e3);
    }
    if frames + missing > 0 {
        acc.loss
            .push(missing as f64 * 100.0 / (frames + missing) as f64);
    }
    acc.jitter.extend(delay.jitter().map(ms));
    acc.frames += frames;
    acc.missing += missing;
    acc.delay.merge(&delay);
    without
}

/// The samples of the steady window: from when every bot has started and had time to settle
/// (a third of the duration, at most 3 s) to the end. Falls back to the whole run when that
/// leaves fewer than two samples.
fn window<'a>(spec: &Scenario, samples: &'a [Sample]) -> &'a [Sample] {
    let ramp = crate::scenario::plan(spec)
        .last()
        .map_or(Duration::ZERO, |b| b.start);
    let settle = (spec.duration / 3).min(Duration::from_secs(3));
    let from = samples
        .iter()
        .position(|s| s.at >= ramp + settle)
        .unwrap_or(0);
    if samples.len().saturating_sub(from) >= 2 {
        &samples[from..]
    } else {
        samples
    }
}

fn server_report(
    spec: &Scenario,
    server: &ServerUnderTest,
    samples: &[Sample],
    participants: usize,
) -> ServerReport {
    let w = window(spec, samples);
    // An overloaded server may miss a `/metrics` deadline: measure between the first and last
    // samples of the window that have them, CPU over the same span.
    let with_metrics: Vec<&Sample> = w.iter().filter(|s| s.metrics.is_some()).collect();
    let (first, last) = match (with_metrics.first(), with_metrics.last()) {
        (Some(a), Some(b)) if b.at > a.at => (Some(*a), Some(*b)),
        _ => (w.first(), w.last()),
    };
    let wall = match (first, last) {
        (Some(a), Some(b)) => b.at.saturating_sub(a.at),
        _ => Duration::ZERO,
    };
    let span =
        |f: &dyn Fn(&Sample) -> Option<ProcSample>| match (first.and_then(f), last.and_then(f)) {
            (Some(a), Some(b)) if !wall.is_zero() => Some((a, b)),
            _ => None,
        };
    let proc = span(&|s: &Sample| s.server);
    let cpu = proc.map(|(a, b)| cpu_percent(&a, &b, wall));
    let cpu_us = proc.map(|(a, b)| b.cpu.saturating_sub(a.cpu).as_secs_f64() * 1e6);
    let metrics = match (first.and_then(|s| s.metrics), last.and_then(|s| s.metrics)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let secs = wall.as_secs_f64();
    let (source, packets, frames) = match metrics {
        Some((a, b)) => (
            "server /metrics",
            b.datagrams_out.saturating_sub(a.datagrams_out),
            Some(b.frames_forwarded.saturating_sub(a.frames_forwarded)),
        ),
        None => {
            let (a, b) = (
                first.map_or(0, |s| s.datagrams_received),
                last.map_or(0, |s| s.datagrams_received),
            );
            ("bots", b.saturating_sub(a), None)
        }
    };
    let per_s = |n: u64| (secs > 0.0).then(|| n as f64 / secs);
    let baseline = samples.first().and_then(|s| s.server).map(|s| s.rss_bytes);
    let rss_end = last.and_then(|s| s.server).map(|s| s.rss_bytes);
    let pairs: Vec<(&Sample, &Sample)> = samples.iter().zip(samples.iter().skip(1)).collect();
    let cpu_samples: Vec<[f64; 2]> = pairs
        .iter()
        .filter_map(|(a, b)| {
            let (x, y) = (a.server?, b.server?);
            Some([
                b.at.as_secs_f64(),
                cpu_percent(&x, &y, b.at.saturating_sub(a.at)),
            ])
        })
        .collect();
    let rss_samples: Vec<[f64; 2]> = samples
        .iter()
        .filter_map(|s| Some([s.at.as_secs_f64(), mib(s.server?.rss_bytes)]))
        .collect();
    ServerReport {
        pid: server.pid,
        window_s: [
            first.map_or(0.0, |s| s.at.as_secs_f64()),
            last.map_or(0.0, |s| s.at.as_secs_f64()),
        ],
        cpu_percent: cpu,
        cpu_percent_peak: cpu_samples.iter().map(|s| s[1]).reduce(f64::max),
        rss_mib_start: baseline.map(mib),
        rss_mib_max: rss_samples.iter().map(|s| s[1]).reduce(f64::max),
        rss_kib_per_participant: match (baseline, rss_end) {
            (Some(a), Some(b)) if participants > 0 => {
                Some(b.saturating_sub(a) as f64 / 1024.0 / participants as f64)
            }
            _ => None,
        },
        packets_source: source,
        forwarded_packets_per_s: per_s(packets),
        frames_forwarded_per_s: frames.and_then(per_s),
        cpu_us_per_forwarded_packet: cpu_us.filter(|_| packets > 0).map(|us| us / packets as f64),
        alive_at_end: server
            .pid
            .map(|_| samples.last().is_some_and(|s| s.server.is_some())),
        rss_mib_samples: rss_samples,
        cpu_percent_samples: cpu_samples,
    }
}

fn loadtest_report(spec: &Scenario, samples: &[Sample], bots: usize) -> LoadtestReport {
    let w = window(spec, samples);
    let cpu = match (
        w.first().and_then(|s| s.loadtest),
        w.last().and_then(|s| s.loadtest),
    ) {
        (Some(a), Some(b)) => {
            let wall = w[w.len() - 1].at.saturating_sub(w[0].at);
            (!wall.is_zero()).then(|| cpu_percent(&a, &b, wall))
        }
        _ => None,
    };
    LoadtestReport {
        cpu_percent: cpu,
        cpu_percent_per_bot: cpu.filter(|_| bots > 0).map(|c| c / bots as f64),
        rss_mib: samples
            .last()
            .and_then(|s| s.loadtest)
            .map(|s| mib(s.rss_bytes)),
        others_cpu_percent: w.first().zip(w.last()).and_then(|(a, b)| others_cpu(a, b)),
    }
}

/// What every process but the server and this one used between two samples, percent of one
/// core; `None` without the machine's and this process's readings. A server in this very
/// process (the tests') is counted twice, which makes the figure too low there.
fn others_cpu(a: &Sample, b: &Sample) -> Option<f64> {
    let wall = b.at.checked_sub(a.at).filter(|w| !w.is_zero())?;
    let busy = b.machine?.busy.saturating_sub(a.machine?.busy);
    let ours = |s: &Sample| {
        s.server.map_or(Duration::ZERO, |p| p.cpu) + s.loadtest.map_or(Duration::ZERO, |p| p.cpu)
    };
    let others = busy.saturating_sub(ours(b).saturating_sub(ours(a)));
    Some(others.as_secs_f64() / wall.as_secs_f64() * 100.0)
}
