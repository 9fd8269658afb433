//! The report as a plain-text table for stdout: the same figures as the JSON, rounded.

use std::fmt::Write;

use crate::budget::BudgetReport;
use crate::churn::ChurnReport;
use crate::impair::ImpairReport;
use crate::report::{Dist, Report, TileReport};

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
        "  total loss {:.3} % (video {:.3} %, audio {:.3} %); \
         publisher pairs without media (or stopped) {}/{}",
        m.loss_percent_total,
        m.loss_percent_video,
        m.loss_percent_audio,
        m.pairs_without_media,
        m.pairs
    );
    tiles(&mut out, &m.tiles);
    if m.video_pauses > 0 {
        let _ = writeln!(
            out,
            "  cameras paused by the server for want of bandwidth: {} times, {:.1} pair-seconds              (not counted as loss)",
            m.video_pauses, m.video_paused_s
        );
    }
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
        "  forwarded {} packets/s, {} frames/s (packets: {}), {} µs CPU per forwarded packet",
        num(v.forwarded_packets_per_s, 0),
        num(v.frames_forwarded_per_s, 0),
        v.packets_counted,
        num(v.cpu_us_per_forwarded_packet, 1)
    );
    let _ = writeln!(
        out,
        "  bots received {} RTP packets/s: {} µs CPU per RTP packet received",
        num(v.bots_rtp_received_per_s, 0),
        num(v.cpu_us_per_received_rtp_packet, 1)
    );
    if v.egress_mbps.is_some() {
        let _ = writeln!(
            out,
            "  egress {} Mbit/s, ingress {} Mbit/s (UDP payloads + 28 bytes a datagram)",
            num(v.egress_mbps, 1),
            num(v.ingress_mbps, 1)
        );
    }
    if v.timeouts_per_datagram_out.is_some() {
        let _ = writeln!(
            out,
            "  {} connection timeouts per datagram sent",
            num(v.timeouts_per_datagram_out, 2)
        );
    }
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
    if let Some(i) = &r.impair {
        impair(&mut out, i);
    }
    if let Some(b) = &r.budget {
        budget(&mut out, b);
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

/// What each tile size received from simulcast cameras: the layer it calls for, how many
/// pairs got mostly that one, the frames per layer and the bitrate.
fn tiles(out: &mut String, tiles: &[TileReport]) {
    if tiles.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  simulcast layers received since each tile was set (frames q/h/f; kbit/s per pair):"
    );
    for t in tiles {
        let [q, h, f] = t.frames_by_layer;
        let _ = writeln!(
            out,
            "    {:<10} wants {:<2} {:>5} pairs, {:>5} on it; frames {q}/{h}/{f}; kbit/s p50 {} max {}",
            t.tile,
            t.wants,
            t.pairs,
            t.on_wanted_layer,
            num(t.kbps.p50, 0),
            num(t.kbps.max, 0)
        );
    }
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

/// The impair section: the link, each phase, each recovery, the audio and the teacher.
fn impair(out: &mut String, r: &ImpairReport) {
    let l = &r.link;
    let _ = writeln!(
        out,
        "shaped link: queue {} ms drop-tail, delay {} ms each way, bucket {} bytes; relays \
         overflowed {} datagrams, {} sends failed",
        l.queue.as_millis(),
        l.delay.as_millis(),
        l.burst_bytes,
        r.relay_overflow,
        r.relay_send_errors
    );
    let _ = writeln!(
        out,
        "  relays' timing: {} of {} downlink datagrams ({:.2} %) left more than {} ms after the \
         link let them out (back to back with the next), the latest {:.1} ms after, {:.2} ms \
         on average",
        r.relay_late,
        r.relay_sent,
        100.0 * r.relay_late as f64 / r.relay_sent.max(1) as f64,
        crate::relay::LATE.as_millis(),
        r.relay_late_max_ms,
        r.relay_late_mean_ms
    );
    let _ = writeln!(
        out,
        "  phase (s)      capacity       sent   received  (media)     demand  utilization (of possible, media)  dropped"
    );
    for p in &r.phases {
        let _ = writeln!(
            out,
            "  {:>5.0}-{:<5.0}  {:>7.0}    {:>7.0}    {:>7.0}  ({:>5.0})    {:>7}  {:>11.2} ({:>4.2}, {:>4.2})        {:>5.1} %  kbit/s, from {:.0} s",
            p.span_s[0],
            p.span_s[1],
            p.capacity_kbps,
            p.sent_kbps,
            p.received_kbps,
            p.media_kbps,
            num(p.demand_kbps, 0),
            p.utilization,
            p.utilization_of_possible,
            p.media_utilization_of_possible,
            p.dropped_percent,
            p.measured_from_s
        );
    }
    for c in &r.recoveries {
        let _ = writeln!(
            out,
            "  drop at {:.0} s from {:.0} to {:.0} kbit/s: first under capacity after {} s, \
             stayed under (within 5 %) from {} s; over it {:.0} % of the phase",
            c.at_s,
            c.from_kbps,
            c.to_kbps,
            num(c.first_under_s, 1),
            num(c.back_under_s, 1),
            c.over_share * 100.0
        );
    }
    let a = &r.audio;
    let _ = writeln!(
        out,
        "  audio: loss {:.2} %, {} silences of 200 ms or more, longest {:.0} ms",
        a.loss_percent, a.gaps, a.longest_gap_ms
    );
    let t = &r.teacher;
    let _ = writeln!(
        out,
        "  teacher's video: paused {} times, {:.1} s of it while another camera was not; {} \
         silences of 0.5 s or more while another camera's frames came; longest silence {:.0} ms",
        t.pauses, t.paused_while_others_shown_s, t.silences_while_others_flowed, t.longest_gap_ms
    );
    let _ = writeln!(
        out,
        "  cameras paused at this student: {} times, {:.1} s in all",
        r.pauses, r.paused_s
    );
    let _ = writeln!(
        out,
        "  per second: t capacity sent (rtx, padding, rtcp) received dropped% queue-ms(mean/max) \
         demand estimate allocated (kbit/s)"
    );
    for s in &r.seconds {
        let _ = writeln!(
            out,
            "  {:>4.0} {:>6} {:>6.0} ({:>4.0}, {:>4.0}, {:>3.0}) {:>6.0} {:>5.1} {:>5.0}/{:<5.0} {:>6} {:>6} {:>6}",
            s.t,
            num(s.capacity_kbps, 0),
            s.sent_kbps,
            s.rtx_kbps,
            s.padding_kbps,
            s.rtcp_kbps,
            s.received_kbps,
            s.dropped_percent,
            s.queue_ms_mean,
            s.queue_ms_max,
            num(s.demand_kbps, 0),
            num(s.estimate_kbps, 0),
            num(s.allocated_kbps, 0)
        );
    }
}

/// The budget section: egress against the limit, and each room.
fn budget(out: &mut String, r: &BudgetReport) {
    let _ = writeln!(
        out,
        "budget (window {:.0}-{:.0} s): egress {} Mbit/s ({} payload only) against a limit of {} \
         Mbit/s: {} (worst second {}); demand {} Mbit/s ({} × the limit)",
        r.window_s[0],
        r.window_s[1],
        num(r.egress_mbps, 2),
        num(r.egress_payload_mbps, 2),
        num(r.limit_mbps, 1),
        num(r.egress_ratio, 3),
        num(r.egress_ratio_max_1s, 3),
        num(r.demand_mbps, 1),
        num(r.demand_ratio, 2)
    );
    for room in &r.rooms {
        let _ = writeln!(
            out,
            "  room {}: received {:.2} Mbit/s (share {} , wanted {}); host video longest silence \
             {:.0} ms, {} pauses; audio loss {:.2} %, {} silences ≥ 200 ms (longest {:.0} ms); \
             {} cameras paused at the end",
            room.room,
            room.received_mbps,
            num(room.budget_mbps, 2),
            num(room.wanted_mbps, 2),
            room.host_video_longest_gap_ms,
            room.host_video_pauses,
            room.audio_loss_percent,
            room.audio_gaps,
            room.audio_longest_gap_ms,
            room.videos_paused_at_end
        );
    }
}
