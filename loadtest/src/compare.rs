//! `compare`: one scenario against Aula and then Janus 1.1.2, each started here on loopback and
//! stopped again, and the ratio table Aula / Janus.
//!
//! `aula-loadtest compare --aula target/release/aula class --rooms 1` takes [`CompareArgs`]
//! and the scenario as a nested subcommand (its `--server`, `--target` and `--start-server`
//! are ignored), calls [`run`] and prints [`render`]. Janus has no `/metrics`, so its packets
//! are the RTP packets its bots received; Aula's are the RTP packets it wrote to subscribers
//! (`aula_rtp_packets_forwarded_total`); see the table's `packets counted from` lines. The
//! row per RTP packet the bots received divides both by the same count. With `--floor-us`
//! (this machine's cost of one datagram, `cargo bench -p aula-sfu --bench floor`) the table
//! says how many times that floor each side spends per packet.
//!
//! The servers run one after the other, never together, so each has the machine to itself;
//! each run is bounded by [`run_limit`], and a server is stopped when its run ends, fails or
//! times out (its guard kills it on drop). A scenario Janus cannot do is reported in the table
//! with Janus's error instead of numbers, and the comparison still prints Aula's side.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::peers::JanusServer;
use crate::report::Report;
use crate::scenario::{self, Scenario};
use crate::server::{ServerUnderTest, StartedServer};
use crate::target::Target;

/// Time beyond ramp and duration after which one side's run is abandoned: room creation,
/// bot leaving and the server's start and stop all fit in it many times over.
const OVERRUN: Duration = Duration::from_secs(60);

/// Where the two servers come from.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The `aula` binary to start.
    #[arg(long, value_name = "PATH_TO_AULA")]
    pub aula: PathBuf,
    /// The `janus` binary to start (Debian package `janus`, 1.1.2).
    #[arg(long, value_name = "PATH", default_value = "janus")]
    pub janus: PathBuf,
    /// The Janus configuration folder (janus.jcfg and the plugin and transport files).
    #[arg(long, value_name = "DIR", default_value = "loadtest/peers/janus")]
    pub janus_config: PathBuf,
    /// This machine's floor, µs per 1,200-byte datagram sent (`cargo bench -p aula-sfu
    /// --bench floor`); adds each side's CPU per packet as a multiple of it.
    #[arg(long, value_name = "MICROSECONDS")]
    pub floor_us: Option<f64>,
}

/// What one side of the comparison gave: a report, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The run happened (its verdict may still be a failure).
    Report(Box<Report>),
    /// The run could not happen, and why (e.g. the server would not start).
    Failed(String),
}

impl Side {
    /// The report, if the run happened.
    pub fn report(&self) -> Option<&Report> {
        match self {
            Side::Report(r) => Some(r),
            Side::Failed(_) => None,
        }
    }
}

/// Both sides of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Aula's run.
    pub aula: Side,
    /// Janus's run of the same scenario.
    pub janus: Side,
    /// The machine's floor per datagram, µs, if given.
    pub floor_us: Option<f64>,
}

/// The longest one side's scenario may run.
pub fn run_limit(spec: &Scenario) -> Duration {
    let ramp = scenario::plan(spec)
        .last()
        .map_or(Duration::ZERO, |b| b.start);
    ramp + spec.duration + OVERRUN
}

/// Runs `spec` against Aula, then against Janus. Fails only if neither side could start;
/// one side's failure is in its [`Side`].
pub async fn run(spec: &Scenario, args: &CompareArgs) -> anyhow::Result<Comparison> {
    spec.validate().map_err(anyhow::Error::msg)?;
    let aula = side(run_aula(spec, &args.aula).await);
    let janus = side(run_janus(spec, &args.janus, &args.janus_config).await);
    if let (Side::Failed(a), Side::Failed(j)) = (&aula, &janus) {
        anyhow::bail!("neither server ran: aula: {a}; janus: {j}");
    }
    Ok(Comparison {
        aula,
        janus,
        floor_us: args.floor_us,
    })
}

/// The side a run's result makes.
pub(crate) fn side(result: anyhow::Result<Report>) -> Side {
    match result {
        Ok(report) => Side::Report(Box::new(report)),
        Err(e) => Side::Failed(format!("{e:#}")),
    }
}

/// Starts `path` with the flags the scenario needs, runs the scenario against it, stops it.
pub(crate) async fn run_aula(spec: &Scenario, path: &Path) -> anyhow::Result<Report> {
    let biggest = spec.room_sizes().into_iter().max().unwrap_or(1);
    let server = StartedServer::start_with(path, biggest + 10, &spec.server_flags())
        .await
        .with_context(|| format!("starting {}", path.display()))?;
    eprintln!(
        "aula: started (pid {}) at {}",
        server.pid(),
        server.url.http_base()
    );
    let sut = ServerUnderTest {
        url: server.url.clone(),
        pid: Some(server.pid()),
        target: Target::Aula,
    };
    let report = bounded(spec, &sut).await;
    server.stop();
    report
}

async fn run_janus(spec: &Scenario, path: &Path, config: &Path) -> anyhow::Result<Report> {
    let server = JanusServer::start(path, config)
        .await
        .with_context(|| format!("starting {}", path.display()))?;
    eprintln!(
        "janus: started (pid {}) at {}",
        server.pid(),
        server.url.http_base()
    );
    let sut = ServerUnderTest {
        url: server.url.clone(),
        pid: Some(server.pid()),
        target: Target::Janus,
    };
    // Janus does no ICE on loopback; its bots bind where it gathers.
    let mut spec = spec.clone();
    spec.local_ip = server.media_ip;
    let report = bounded(&spec, &sut).await;
    let report = report.with_context(|| format!("janus log: {}", server.log_tail(5)));
    server.stop();
    report
}

async fn bounded(spec: &Scenario, sut: &ServerUnderTest) -> anyhow::Result<Report> {
    let limit = run_limit(spec);
    let report = tokio::time::timeout(limit, scenario::run(spec, sut))
        .await
        .with_context(|| format!("the run did not end within {limit:?}"))??;
    Ok(report)
}

/// One row of the ratio table: a name, how to read it off a report, and its unit.
struct Row {
    name: &'static str,
    unit: &'static str,
    value: fn(&Report) -> Option<f64>,
}

/// The rows, all but the last "lower is better", so a ratio below 1 means Aula does better.
const ROWS: [Row; 10] = [
    Row {
        name: "server CPU per forwarded packet",
        unit: "µs",
        value: |r| r.server.cpu_us_per_forwarded_packet,
    },
    Row {
        name: "server CPU per RTP packet received",
        unit: "µs",
        value: |r| r.server.cpu_us_per_received_rtp_packet,
    },
    Row {
        name: "server RSS per participant",
        unit: "KiB",
        value: |r| r.server.rss_kib_per_participant,
    },
    Row {
        name: "join p95 (joined)",
        unit: "ms",
        value: |r| r.joins.joined_ms.p95,
    },
    Row {
        name: "join p95 (first media)",
        unit: "ms",
        value: |r| r.joins.first_media_ms.p95,
    },
    Row {
        name: "loss, all subscribers",
        unit: "%",
        value: |r| Some(r.media.loss_percent_total),
    },
    Row {
        name: "loss, video",
        unit: "%",
        value: |r| Some(r.media.loss_percent_video),
    },
    Row {
        name: "loss, audio",
        unit: "%",
        value: |r| Some(r.media.loss_percent_audio),
    },
    Row {
        name: "server CPU",
        unit: "% core",
        value: |r| r.server.cpu_percent,
    },
    // Not a cost: the denominator of the first row, to see both sides counted alike.
    Row {
        name: "forwarded packets/s",
        unit: "1/s",
        value: |r| r.server.forwarded_packets_per_s,
    },
];

/// The ratio table, one line per row, then each side's packet source and verdict (or error).
pub fn render(c: &Comparison) -> String {
    let (a, j) = (c.aula.report(), c.janus.report());
    let mut out = format!(
        "{:<34} {:>12} {:>12} {:>12}\n",
        "Aula vs Janus (lower is better)", "Aula", "Janus", "Aula/Janus"
    );
    for row in &ROWS {
        let av = a.and_then(row.value);
        let jv = j.and_then(row.value);
        out.push_str(&format!(
            "{:<34} {:>12} {:>12} {:>12}\n",
            format!("{} ({})", row.name, row.unit),
            number(av),
            number(jv),
            ratio(av, jv),
        ));
    }
    if let Some(floor) = c.floor_us.filter(|f| *f > 0.0) {
        let times = |r: Option<&Report>| r.and_then(|r| r.server.cpu_us_per_forwarded_packet);
        let (av, jv) = (times(a).map(|v| v / floor), times(j).map(|v| v / floor));
        out.push_str(&format!(
            "{:<34} {:>12} {:>12} {:>12}\n",
            format!("CPU per packet / floor {floor} µs (×)"),
            number(av),
            number(jv),
            ratio(av, jv),
        ));
    }
    for (name, side) in [("aula", &c.aula), ("janus", &c.janus)] {
        match side {
            Side::Report(r) => {
                out.push_str(&format!(
                    "{name}: packets counted from {}; {}\n",
                    r.server.packets_counted, r.verdict.line
                ));
            }
            Side::Failed(why) => out.push_str(&format!("{name}: could not run: {why}\n")),
        }
    }
    out
}

pub(crate) fn number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

/// `a / b`; `-` when either is missing or `b` is zero.
pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        (Some(0.0), Some(_)) => "1.00".into(),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(1.0), Some(4.0)), "0.25");
        assert_eq!(ratio(Some(0.0), Some(0.0)), "1.00");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "-");
        assert_eq!(ratio(None, Some(1.0)), "-");
        assert_eq!(number(Some(1234.4)), "1234");
        assert_eq!(number(Some(1.234)), "1.23");
        assert_eq!(number(None), "-");
    }

    #[test]
    fn a_failed_side_is_named_not_skipped() {
        let c = Comparison {
            aula: Side::Failed("aula did not start".into()),
            janus: Side::Failed("no janus".into()),
            floor_us: None,
        };
        let table = render(&c);
        assert!(
            table.contains("aula: could not run: aula did not start"),
            "{table}"
        );
        assert!(table.contains("janus: could not run: no janus"), "{table}");
        assert_eq!(table.lines().count(), 1 + ROWS.len() + 2);
    }
}
