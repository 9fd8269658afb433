//! The report as a plain-text table for stdout: the same figures as the JSON, rounded.

use std::fmt::Write;

use crate::churn::ChurnReport;
use crate::report::{Dist, Report};

/// `12.3` or `-` when there is no value.
fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn dist_row(out: &mut String, name: &str, unit: &str, d: &Dist, decimals: usize) {
    let _ = writeln!(
        out,
        "  {name:<26} {:>9} {:>9} {:>9} {:>9} {:>9}  {unit} (n={})",
        num(d.p50, decimals),
        num(d.p95, decimals),
        num(d.p99, decimals),
        num(d.max, decimals),
        num(d.mean, decimals),
        d.count
    );
}

fn header(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "{title:<28} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "p50", "p95", "p99", "max", "mean"
    );
}

/// Renders the whole report, verdict last.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let s = &r.scenario;
    let _ = writeln!(
        out,
        "scenario {:?}: rooms {:?}, {} publishers, {} s after the last join, seed {}, server {}",
        s.kind, s.room_sizes, s.publishers, s.duration_s, s.seed, s.server
    );
    let j = &r.joins;
    header(
        &mut out,
        &format!("join ({}/{} joined)", j.joined, j.planned),
    );
    dist_row(&mut out, "websocket open", "ms", &j.ws_open_ms, 0);
    dist_row(&mut out, "joined", "ms", &j.joined_ms, 0);
    dist_row(&mut out, "ICE connected", "ms", &j.ice_connected_ms, 0);
    dist_row(&mut out, "first remote media", "ms", &j.first_media_ms, 0);
    let m = &r.media;
    header(&mut out, &format!("media ({} subscribers)", m.subscribers));
    dist_row(&mut out, "received bitrate", "kbit/s", &m.bitrate_kbps, 0);
    dist_row(&mut out, "loss (missing frames)", "%", &m.loss_percent, 2);
    dist_row(&mut out, "jitter", "ms", &m.jitter_ms, 2);
    let d = &m.delay_ms;
    let _ = writeln!(
        out,
        "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>9}  ms, p50/p99 upper bounds (frames={})",
        "one-way delay (SFU+host)",
        num(d.p50, 1),
        "",
        num(d.p99, 1),
        num(d.max, 1),
        num(d.mean, 2),
        d.frames
    );
    let _ = writeln!(
        out,
        "  total loss {:.3} %; publisher pairs without media {}/{}",
        m.loss_percent_total, m.pairs_without_media, m.pairs
    );
    let v = &r.server;
    let _ = writeln!(
        out,
        "server (pid {}, window {:.0}-{:.0} s)",
        v.pid.map_or("-".to_owned(), |p| p.to_string()),
        v.window_s[0],
        v.window_s[1]
    );
    let _ = writeln!(
        out,
        "  CPU {} % of one core (peak {} %), RSS {} MiB at start, {} MiB max, {} KiB per participant",
        num(v.cpu_percent, 1),
        num(v.cpu_percent_peak, 0),
        num(v.rss_mib_start, 1),
        num(v.rss_mib_max, 1),
        num(v.rss_kib_per_participant, 0)
    );
    let _ = writeln!(
        out,
        "  forwarded {} packets/s, {} frames/s (from {}), {} µs CPU per forwarded packet",
        num(v.forwarded_packets_per_s, 0),
        num(v.frames_forwarded_per_s, 0),
        v.packets_source,
        num(v.cpu_us_per_forwarded_packet, 1)
    );
    let l = &r.loadtest;
    let _ = writeln!(
        out,
        "loadtest: CPU {} % of one core ({} % per bot), RSS {} MiB; other processes: CPU {} %",
        num(l.cpu_percent, 1),
        num(l.cpu_percent_per_bot, 3),
        num(l.rss_mib, 1),
        num(l.others_cpu_percent, 1)
    );
    if let Some(c) = &r.churn {
        churn(&mut out, c);
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "failures:");
        for (cause, n) in &r.failures {
            let _ = writeln!(out, "  {n:>5}  {cause}");
        }
        for e in &r.failure_examples {
            let _ = writeln!(out, "  e.g. {e}");
        }
    }
    let _ = writeln!(out, "{}", r.verdict.line);
    out
}

/// The churn section: events, resumes and rejoins, renegotiations, stayer gaps.
fn churn(out: &mut String, c: &ChurnReport) {
    let count = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let _ = writeln!(
        out,
        "churn ({} per room per minute, {:.0} % resumes): {} events planned, {} sent, {} skipped \
         (room all away), {} refused",
        c.per_room_per_min,
        c.resume_share * 100.0,
        c.events.planned,
        c.events.sent,
        c.events.skipped,
        c.refused
    );
    let (r, j) = (&c.resumes, &c.rejoins);
    let _ = writeln!(
        out,
        "  resumes {} ({} back, {} fell back to join); rejoins {} ({} back); server counted {} \
         resumes, {} failed, {} ICE restarts",
        r.started,
        r.back,
        r.fell_back,
        j.started,
        j.back,
        count(c.server_resumes),
        count(c.server_resumes_failed),
        count(c.server_ice_restarts)
    );
    let _ = writeln!(
        out,
        "  failed renegotiations: server {}, bots {}; subscribe resets {}",
        count(c.renegotiations_failed_server),
        c.renegotiations_failed_bots,
        c.subscribe_resets
    );
    header(out, "  latency");
    dist_row(out, "resume (socket to joined)", "ms", &c.resume_ms, 0);
    dist_row(out, "rejoin (socket to joined)", "ms", &c.rejoin_ms, 0);
    dist_row(out, "rejoin (socket to media)", "ms", &c.rejoin_media_ms, 0);
    header(out, &format!("  stayer gaps ({} pairs)", c.pairs));
    dist_row(out, "longest per pair", "ms", &c.longest_gap_ms, 0);
    let _ = writeln!(
        out,
        "  pairs with a gap over 1 s: {} during someone else's churn, {} with nobody churning, \
         {} while other work held the machine ({} s of the run)",
        c.gaps_over_1s_by_churn,
        c.gaps_over_1s_unexplained,
        c.gaps_over_1s_starved,
        c.starved_s.len()
    );
    for g in &c.worst_gaps {
        let _ = writeln!(out, "  e.g. {g}");
    }
}
