//! `morning`: the school's morning (issue 11). Five classes of a teacher and 29 students,
//! every camera on, each student's page the teacher large and at most 9 thumbnails (the bots
//! report their tiles as a page does), once on a server with bandwidth adaptation and once
//! with it off (`--bandwidth-adaptation false`: every subscriber gets the layer its tile
//! calls for, whatever its link or the budget, and no encoding is switched off at its
//! publisher). The targets: no audio lost, under [`MAX_VIDEO_LOSS_PERCENT`] of video lost;
//! the server's CPU and egress per class side by side.
//!
//! Like `compare`, each side starts its own server and has the machine to itself.

use std::path::Path;

use serde::Serialize;

use crate::compare::{Side, number, ratio, run_aula, side};
use crate::report::Report;
use crate::scenario::Scenario;

/// The bound for video loss in the morning, percent.
pub const MAX_VIDEO_LOSS_PERCENT: f64 = 1.0;

/// Both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Morning {
    /// Classes (rooms).
    pub classes: usize,
    /// With bandwidth adaptation (the server's default).
    pub with_allocator: Side,
    /// Without.
    pub without_allocator: Side,
}

/// Runs `spec` on a fresh server with adaptation, then on one without.
pub async fn run(spec: &Scenario, aula: &Path) -> anyhow::Result<Morning> {
    spec.validate().map_err(anyhow::Error::msg)?;
    let with = side(run_aula(spec, aula).await);
    let mut off = spec.clone();
    off.server_flags
        .extend(["--bandwidth-adaptation".to_owned(), "false".to_owned()]);
    let without = side(run_aula(&off, aula).await);
    Ok(Morning {
        classes: spec.room_sizes().len(),
        with_allocator: with,
        without_allocator: without,
    })
}

/// What failed of the targets on one side.
pub fn failures(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if r.media.loss_percent_audio > 0.0 {
        out.push(format!("audio loss {:.3} %", r.media.loss_percent_audio));
    }
    if r.media.loss_percent_video >= MAX_VIDEO_LOSS_PERCENT {
        out.push(format!("video loss {:.3} %", r.media.loss_percent_video));
    }
    out
}

/// One row: a name, how to read it off a report, its unit.
struct Row {
    name: &'static str,
    unit: &'static str,
    value: fn(&Report, f64) -> Option<f64>,
}

const ROWS: [Row; 11] = [
    Row {
        name: "server CPU per class",
        unit: "% core",
        value: |r, n| Some(r.server.cpu_percent? / n),
    },
    Row {
        name: "server egress per class",
        unit: "Mbit/s",
        value: |r, n| Some(r.server.egress_mbps? / n),
    },
    Row {
        name: "server ingress per class",
        unit: "Mbit/s",
        value: |r, n| Some(r.server.ingress_mbps? / n),
    },
    Row {
        name: "server CPU per forwarded packet",
        unit: "µs",
        value: |r, _| r.server.cpu_us_per_forwarded_packet,
    },
    Row {
        name: "server RSS per participant",
        unit: "KiB",
        value: |r, _| r.server.rss_kib_per_participant,
    },
    Row {
        name: "loss, audio",
        unit: "%",
        value: |r, _| Some(r.media.loss_percent_audio),
    },
    Row {
        name: "loss, video",
        unit: "%",
        value: |r, _| Some(r.media.loss_percent_video),
    },
    Row {
        name: "cameras paused (pair-seconds)",
        unit: "s",
        value: |r, _| Some(r.media.video_paused_s),
    },
    Row {
        name: "join p95 (first media)",
        unit: "ms",
        value: |r, _| r.joins.first_media_ms.p95,
    },
    Row {
        name: "loadtest CPU",
        unit: "% core",
        value: |r, _| r.loadtest.cpu_percent,
    },
    Row {
        name: "other processes' CPU",
        unit: "% core",
        value: |r, _| r.loadtest.others_cpu_percent,
    },
];

/// The side-by-side table, then each side's targets and verdict (or why it did not run).
pub fn render(m: &Morning) -> String {
    let n = m.classes.max(1) as f64;
    let (a, b) = (m.with_allocator.report(), m.without_allocator.report());
    let mut out = format!(
        "{:<38} {:>12} {:>12} {:>10}\n",
        format!("morning, {} classes", m.classes),
        "allocator",
        "without",
        "with/out"
    );
    for row in &ROWS {
        let (av, bv) = (
            a.and_then(|r| (row.value)(r, n)),
            b.and_then(|r| (row.value)(r, n)),
        );
        out.push_str(&format!(
            "{:<38} {:>12} {:>12} {:>10}\n",
            format!("{} ({})", row.name, row.unit),
            number(av),
            number(bv),
            ratio(av, bv)
        ));
    }
    for (name, s) in [
        ("with allocator", &m.with_allocator),
        ("without allocator", &m.without_allocator),
    ] {
        match s {
            Side::Report(r) => {
                let f = failures(r);
                let targets = if f.is_empty() {
                    "targets met (0 % audio loss, < 1 % video loss)".to_owned()
                } else {
                    format!("targets missed: {}", f.join("; "))
                };
                out.push_str(&format!("{name}: {targets}; {}\n", r.verdict.line));
            }
            Side::Failed(why) => out.push_str(&format!("{name}: could not run: {why}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_that_did_not_run_says_why() {
        let m = Morning {
            classes: 5,
            with_allocator: Side::Failed("no aula".into()),
            without_allocator: Side::Failed("no aula".into()),
        };
        let table = render(&m);
        assert_eq!(table.lines().count(), 1 + ROWS.len() + 2);
        assert!(table.contains("without allocator: could not run: no aula"));
    }
}
