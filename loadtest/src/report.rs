//! What a run found: join phases, failures by cause, media quality per subscriber and what
//! each tile size received (`media`), the server's CPU, memory and packet rate, the
//! loadtest's own CPU, and for a churn run its own section ([`ChurnReport`]), summarized in a
//! [`Report`] that prints as a table and serializes to the same fields in JSON, ending in a
//! verdict.
//!
//! Pure: it summarizes the bots' final stats and the per-second samples a run collected.

mod media;

pub use media::{DelayReport, MediaReport, TileReport};

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio_tungstenite::tungstenite;

use crate::budget::BudgetReport;
use crate::churn::ChurnReport;
use crate::impair::ImpairReport;
use crate::procstat::{MachineSample, ProcSample, cpu_percent};
use crate::scenario::{BotPlan, Kind, Scenario};
use crate::server::{Metrics, ServerUnderTest};
use crate::stats::BotStats;
use crate::{BotError, BotReport};
use media::{MediaAcc, record_media};

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
    /// Of those, RTP packets.
    pub rtp_received: u64,
    /// Per room, in room order: what its bots received, and the allocator's view of it.
    pub rooms: Vec<RoomSample>,
}

/// One room in a [`Sample`].
#[derive(Debug, Clone, Default)]
pub struct RoomSample {
    /// UDP bytes its bots received on their subscribe connections so far (payloads; a bot's
    /// count starts again with a new subscribe connection).
    pub bytes_received: u64,
    /// The datagrams that carried them.
    pub datagrams_received: u64,
    /// `GET /api/rooms/{id}/bandwidth`, if the scenario reads it and the server answered.
    pub bandwidth: Option<crate::server::RoomBandwidth>,
}

/// The sections only some scenarios have.
#[derive(Debug, Default)]
pub struct Sections {
    /// Churn.
    pub churn: Option<ChurnReport>,
    /// Impair.
    pub impair: Option<ImpairReport>,
    /// Budget.
    pub budget: Option<BudgetReport>,
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
    /// Its stats when the steady window began ([`steady_from`]), and when that was from the
    /// run's start: what the tile bitrates count from, so the joins' keyframes stay out.
    pub steady: Option<(Duration, BotStats)>,
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
    /// Where packet counts come from: `server /metrics`, or `bots` (for servers without
    /// Aula's metrics).
    pub packets_source: &'static str,
    /// What `forwarded_packets_per_s` counts: `aula_rtp_packets_forwarded_total` (RTP packets
    /// Aula wrote to subscribers), `aula_udp_datagrams_out_total` (every datagram out, RTCP and
    /// STUN included, from an Aula without the RTP counter), or `RTP packets the bots
    /// received`.
    pub packets_counted: &'static str,
    /// Packets forwarded per second, as `packets_source` counts them.
    pub forwarded_packets_per_s: Option<f64>,
    /// Frames forwarded per second (`/metrics` only).
    pub frames_forwarded_per_s: Option<f64>,
    /// Server CPU per forwarded packet (`packets_source`), µs.
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Timeouts the server gave its str0m connections per datagram it sent
    /// (`aula_connection_timeouts_total`): each is a pass over a connection's streams, the
    /// largest per-packet cost after the send itself (docs/benchmarks.md).
    pub timeouts_per_datagram_out: Option<f64>,
    /// RTP packets the bots received per second on their subscribe connections: the same
    /// count for every server.
    pub bots_rtp_received_per_s: Option<f64>,
    /// Server CPU per RTP packet the bots received, µs: comparable across servers.
    pub cpu_us_per_received_rtp_packet: Option<f64>,
    /// Whether the process was still there at the end.
    pub alive_at_end: Option<bool>,
    /// What the server sent over the window, Mbit/s: UDP payloads plus 28 bytes of IPv4 and
    /// UDP header a datagram (`/metrics`, where the server counts bytes).
    pub egress_mbps: Option<f64>,
    /// What it received, the same way.
    pub ingress_mbps: Option<f64>,
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
    /// The shaped link and what came through it (impair runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impair: Option<ImpairReport>,
    /// Egress against the server's limit, room by room (budget runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetReport>,
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
    /// Summarizes a run; `sections` are the scenario's own, built from the same outcomes.
    pub fn build(
        spec: &Scenario,
        server: &ServerUnderTest,
        outcomes: &[Outcome],
        samples: &[Sample],
        sections: Sections,
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
            churn: sections.churn,
            impair: sections.impair,
            budget: sections.budget,
            verdict: Verdict {
                ok: false,
                line: String::new(),
            },
        };
        report.verdict = report.judge();
        report
    }

    /// Fails the run above [`MAX_LOSS_PERCENT`] too: everyone joined and got something is
    /// not a lesson that worked if a tenth of the picture is missing; an impair run's shaped
    /// link is meant to lose, and is judged by its own targets instead. A churn, impair or
    /// budget run also fails on what its section's `failures` name.
    fn judge(&self) -> Verdict {
        let failed: usize = self.failures.values().sum();
        let server_gone = self.server.alive_at_end == Some(false);
        let lossy =
            self.media.loss_percent_total > MAX_LOSS_PERCENT && self.scenario.kind != Kind::Impair;
        let section_failures: Vec<String> = [
            self.churn.as_ref().map(ChurnReport::failures),
            self.impair.as_ref().map(ImpairReport::failures),
            self.budget.as_ref().map(BudgetReport::failures),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .collect();
        let churn_failures = Some(section_failures);
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
        if let Some(impair) = &self.impair {
            line.push_str(&format!("; {}", impair.summary()));
        }
        if let Some(budget) = &self.budget {
            line.push_str(&format!("; {}", budget.summary()));
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
        // The bot's clock starts at its planned start (a little later, in fact).
        let steady = o
            .steady
            .as_ref()
            .map(|(at, s)| (at.saturating_sub(o.plan.start), s));
        let without = record_media(
            s,
            steady,
            &publishers,
            end.saturating_sub(o.plan.start),
            media,
        );
        if without > 0 && failure.is_none() {
            failure = Some((
                "no media from a publisher, or it stopped before the end".into(),
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

/// When the steady window begins, from the run's start: every bot has started and had time
/// to settle (a third of the duration, at most 3 s).
pub fn steady_from(spec: &Scenario) -> Duration {
    let ramp = crate::scenario::plan(spec)
        .last()
        .map_or(Duration::ZERO, |b| b.start);
    ramp + (spec.duration / 3).min(Duration::from_secs(3))
}

/// The samples of the steady window: from when every bot has started and had time to settle
/// (a third of the duration, at most 3 s) to the end. Falls back to the whole run when that
/// leaves fewer than two samples.
pub(crate) fn window<'a>(spec: &Scenario, samples: &'a [Sample]) -> &'a [Sample] {
    let from = samples
        .iter()
        .position(|s| s.at >= steady_from(spec))
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
    let bots_rtp = last
        .map_or(0, |s| s.rtp_received)
        .saturating_sub(first.map_or(0, |s| s.rtp_received));
    let (counted, packets, frames) = match metrics {
        Some((a, b)) => {
            let frames = Some(b.frames_forwarded.saturating_sub(a.frames_forwarded));
            match (a.rtp_packets_forwarded, b.rtp_packets_forwarded) {
                (Some(x), Some(y)) => {
                    let rtp = y.saturating_sub(x);
                    ("aula_rtp_packets_forwarded_total", rtp, frames)
                }
                _ => {
                    let out = b.datagrams_out.saturating_sub(a.datagrams_out);
                    ("aula_udp_datagrams_out_total", out, frames)
                }
            }
        }
        None => ("RTP packets the bots received", bots_rtp, None),
    };
    let source = if metrics.is_some() {
        "server /metrics"
    } else {
        "bots"
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
        packets_counted: counted,
        forwarded_packets_per_s: per_s(packets),
        frames_forwarded_per_s: frames.and_then(per_s),
        cpu_us_per_forwarded_packet: cpu_us.filter(|_| packets > 0).map(|us| us / packets as f64),
        timeouts_per_datagram_out: metrics.and_then(|(a, b)| {
            let timeouts = b.connection_timeouts?.checked_sub(a.connection_timeouts?)?;
            let out = b.datagrams_out.checked_sub(a.datagrams_out)?;
            (out > 0).then(|| timeouts as f64 / out as f64)
        }),
        bots_rtp_received_per_s: per_s(bots_rtp),
        cpu_us_per_received_rtp_packet: cpu_us
            .filter(|_| bots_rtp > 0)
            .map(|us| us / bots_rtp as f64),
        alive_at_end: server
            .pid
            .map(|_| samples.last().is_some_and(|s| s.server.is_some())),
        egress_mbps: metrics.and_then(|(a, b)| {
            let bytes = b.wire_bytes_out()?.checked_sub(a.wire_bytes_out()?)?;
            (secs > 0.0).then(|| bytes as f64 * 8.0 / secs / 1e6)
        }),
        ingress_mbps: metrics.and_then(|(a, b)| {
            let wire =
                |m: &Metrics| Some(m.bytes_in? + m.datagrams_in? * crate::link::HEADER_BYTES);
            let bytes = wire(&b)?.checked_sub(wire(&a)?)?;
            (secs > 0.0).then(|| bytes as f64 * 8.0 / secs / 1e6)
        }),
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
