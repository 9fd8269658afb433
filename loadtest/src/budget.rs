//! The `budget` scenario's report (issue 11): class rooms that ask for about three times the
//! server's egress limit (`egress_limit_mbps`). The targets: the server's total egress stays
//! within the limit (± [`EGRESS_TOLERANCE`]), and in every room every host video and all
//! audio keep flowing.
//!
//! Egress is the server's own count (`aula_udp_bytes_out_total`, with 28 bytes of IPv4 and UDP
//! header per datagram, as a school's uplink carries it; the payload alone beside it), over
//! the measured window: from a third of the run after the last join to its end, when the
//! links' estimates have settled. Demand is the allocator's sum of what every page would get
//! unconstrained (`aula_bandwidth_wanted_bps`). Each room's share comes from its bots (what
//! they received) and from the allocator (`GET /api/rooms/{id}/bandwidth`).
//!
//! Pure: [`BudgetReport::build`] works on what the run collected; [`svg`] draws it.

use std::time::Duration;

use serde::Serialize;

use crate::gaps::{Span, StreamKind};
use crate::impair::AUDIO_GAP;
use crate::plot::{Plot, Series};
use crate::report::{Outcome, Sample};
use crate::scenario::{self, Scenario};

/// How far total egress may be from the limit, as a share of it.
pub const EGRESS_TOLERANCE: f64 = 0.10;
/// A host video silence this long is the teacher's picture stopping.
pub const HOST_GAP: Duration = Duration::from_secs(1);

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetSecond {
    /// Its end, seconds from the run's start.
    pub t: f64,
    /// Server egress, Mbit/s, headers included.
    pub egress_mbps: Option<f64>,
    /// The same, UDP payloads only.
    pub payload_mbps: Option<f64>,
    /// What the pages asked for (`aula_bandwidth_wanted_bps`), Mbit/s.
    pub demand_mbps: Option<f64>,
    /// What the rooms' bots received, per room, Mbit/s (headers included).
    pub rooms_mbps: Vec<f64>,
}

/// One room over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoomBudget {
    /// Its index.
    pub room: usize,
    /// What its bots received, Mbit/s (headers included).
    pub received_mbps: f64,
    /// Its share of the server's budget as the allocator last said, Mbit/s.
    pub budget_mbps: Option<f64>,
    /// What its pages asked for, mean, Mbit/s.
    pub wanted_mbps: Option<f64>,
    /// The longest silence of the host's video at any subscriber, ms.
    pub host_video_longest_gap_ms: f64,
    /// Times the server paused the host's video at a subscriber (`bandwidth`), over the whole
    /// run (the start included, before any layer's rate was measured).
    pub host_video_pauses: u32,
    /// Audio frames missing over all audio frames, percent.
    pub audio_loss_percent: f64,
    /// Audio silences of [`AUDIO_GAP`] or more, all pairs.
    pub audio_gaps: usize,
    /// The longest audio silence, ms.
    pub audio_longest_gap_ms: f64,
    /// Student cameras paused for want of bandwidth at the end of the run, over all
    /// subscribers.
    pub videos_paused_at_end: usize,
}

/// The budget section of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetReport {
    /// The server's egress limit, Mbit/s (from its `/metrics`, else the scenario's).
    pub limit_mbps: Option<f64>,
    /// The measured window, seconds from the run's start.
    pub window_s: [f64; 2],
    /// Server egress over the window, Mbit/s, headers included.
    pub egress_mbps: Option<f64>,
    /// The same, UDP payloads only.
    pub egress_payload_mbps: Option<f64>,
    /// Egress over the limit.
    pub egress_ratio: Option<f64>,
    /// The highest one-second egress over the limit within the window.
    pub egress_ratio_max_1s: Option<f64>,
    /// What the pages asked for, mean over the window, Mbit/s.
    pub demand_mbps: Option<f64>,
    /// Demand over the limit: the scenario means about 3.
    pub demand_ratio: Option<f64>,
    /// Every second.
    pub seconds: Vec<BudgetSecond>,
    /// Every room.
    pub rooms: Vec<RoomBudget>,
}

impl BudgetReport {
    /// Builds the section from the run's outcomes and samples.
    pub fn build(spec: &Scenario, outcomes: &[Outcome], samples: &[Sample]) -> BudgetReport {
        let ramp = scenario::plan(spec)
            .last()
            .map_or(Duration::ZERO, |b| b.start);
        let from = ramp + spec.duration / 3;
        let window: Vec<&Sample> = samples.iter().filter(|s| s.at >= from).collect();
        let limit = samples
            .iter()
            .rev()
            .find_map(|s| s.metrics?.egress_limit_bps)
            .map(|b| b as f64 / 1e6)
            .or(spec.egress_limit_mbps);
        let seconds: Vec<BudgetSecond> = samples.windows(2).map(|w| second(&w[0], &w[1])).collect();
        let (first, last) = (window.first(), window.last());
        let rate = |f: &dyn Fn(&Sample) -> Option<u64>| -> Option<f64> {
            let (a, b) = (first?, last?);
            let secs = b.at.checked_sub(a.at)?.as_secs_f64();
            (secs > 0.0)
                .then(|| f(b)?.checked_sub(f(a)?))
                .flatten()
                .map(|bytes| bytes as f64 * 8.0 / secs / 1e6)
        };
        let egress = rate(&|s| s.metrics?.wire_bytes_out());
        let payload = rate(&|s| s.metrics?.bytes_out);
        let demand = mean(window.iter().filter_map(|s| s.metrics?.wanted_bps));
        let in_window = |t: f64| t > from.as_secs_f64();
        let worst = seconds
            .iter()
            .filter(|s| in_window(s.t))
            .filter_map(|s| s.egress_mbps)
            .reduce(f64::max);
        let rooms = (0..spec.room_sizes().len())
            .map(|room| {
                room_budget(
                    room,
                    outcomes,
                    &window,
                    &seconds,
                    from,
                    spec.duration + ramp,
                )
            })
            .collect();
        BudgetReport {
            limit_mbps: limit,
            window_s: [
                first.map_or(0.0, |s| s.at.as_secs_f64()),
                last.map_or(0.0, |s| s.at.as_secs_f64()),
            ],
            egress_mbps: egress,
            egress_payload_mbps: payload,
            egress_ratio: egress.zip(limit).map(|(e, l)| e / l),
            egress_ratio_max_1s: worst.zip(limit).map(|(e, l)| e / l),
            demand_mbps: demand.map(|d| d / 1e6),
            demand_ratio: demand.zip(limit).map(|(d, l)| d / 1e6 / l),
            seconds,
            rooms,
        }
    }

    /// What failed of the targets, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.egress_ratio {
            Some(r) if (r - 1.0).abs() <= EGRESS_TOLERANCE => {}
            Some(r) => out.push(format!(
                "egress {:.1} Mbit/s is {:.0} % of the {:.1} Mbit/s limit (target 100 ± {:.0} %)",
                self.egress_mbps.unwrap_or_default(),
                r * 100.0,
                self.limit_mbps.unwrap_or_default(),
                EGRESS_TOLERANCE * 100.0
            )),
            None => out.push("egress or limit not measured (no /metrics, no limit)".into()),
        }
        for r in &self.rooms {
            // Within the window: a pause before any layer was measured is the start.
            if r.host_video_longest_gap_ms >= HOST_GAP.as_secs_f64() * 1e3 {
                out.push(format!(
                    "room {}: the host's video stopped for {:.0} ms",
                    r.room, r.host_video_longest_gap_ms
                ));
            }
            if r.audio_gaps > 0 {
                out.push(format!(
                    "room {}: audio interrupted {} times (longest {:.0} ms)",
                    r.room, r.audio_gaps, r.audio_longest_gap_ms
                ));
            }
        }
        out
    }

    /// One clause for the verdict line.
    pub fn summary(&self) -> String {
        let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        format!(
            "egress {} of {} Mbit/s limit (demand {}), rooms {}",
            f(self.egress_mbps),
            f(self.limit_mbps),
            f(self.demand_mbps),
            self.rooms
                .iter()
                .map(|r| format!("{:.1}", r.received_mbps))
                .collect::<Vec<_>>()
                .join("/")
        )
    }
}

fn mean(values: impl Iterator<Item = u64>) -> Option<f64> {
    let (n, sum) = values.fold((0u64, 0u64), |(n, s), v| (n + 1, s + v));
    (n > 0).then(|| sum as f64 / n as f64)
}

/// The second between two samples.
fn second(a: &Sample, b: &Sample) -> BudgetSecond {
    let secs = b.at.saturating_sub(a.at).as_secs_f64().max(1e-9);
    let mbps = |x: Option<u64>, y: Option<u64>| Some(y?.checked_sub(x?)? as f64 * 8.0 / secs / 1e6);
    let (ma, mb) = (a.metrics, b.metrics);
    BudgetSecond {
        t: b.at.as_secs_f64(),
        egress_mbps: mbps(
            ma.and_then(|m| m.wire_bytes_out()),
            mb.and_then(|m| m.wire_bytes_out()),
        ),
        payload_mbps: mbps(ma.and_then(|m| m.bytes_out), mb.and_then(|m| m.bytes_out)),
        demand_mbps: mb.and_then(|m| m.wanted_bps).map(|w| w as f64 / 1e6),
        rooms_mbps: a
            .rooms
            .iter()
            .zip(&b.rooms)
            .map(|(x, y)| {
                let wire = |r: &crate::report::RoomSample| {
                    r.bytes_received + r.datagrams_received * crate::link::HEADER_BYTES
                };
                wire(y).saturating_sub(wire(x)) as f64 * 8.0 / secs / 1e6
            })
            .collect(),
    }
}

fn room_budget(
    room: usize,
    outcomes: &[Outcome],
    window: &[&Sample],
    seconds: &[BudgetSecond],
    from: Duration,
    end: Duration,
) -> RoomBudget {
    let received = seconds
        .iter()
        .filter(|s| s.t > from.as_secs_f64())
        .filter_map(|s| s.rooms_mbps.get(room).copied())
        .collect::<Vec<_>>();
    let allocation = window
        .iter()
        .filter_map(|s| s.rooms.get(room)?.bandwidth.as_ref());
    let budget = allocation
        .clone()
        .next_back()
        .and_then(|b| b.budget_bps)
        .map(|b| b as f64 / 1e6);
    let wanted = mean(allocation.map(|b| b.totals().0)).map(|w| w / 1e6);
    let mut r = RoomBudget {
        room,
        received_mbps: received.iter().sum::<f64>() / received.len().max(1) as f64,
        budget_mbps: budget,
        wanted_mbps: wanted,
        ..RoomBudget::default()
    };
    let in_room: Vec<&Outcome> = outcomes.iter().filter(|o| o.plan.room == room).collect();
    let host = in_room
        .iter()
        .find(|o| o.plan.host)
        .and_then(|o| o.report.as_ref()?.stats.id.clone());
    let (mut frames, mut missing) = (0, 0);
    for o in &in_room {
        let Some(s) = o.report.as_ref().map(|r| &r.stats) else {
            continue;
        };
        let Some(me) = s.id.as_deref() else { continue };
        // The window on this bot's clock.
        let measured = Span::new(
            from.saturating_sub(o.plan.start),
            end.saturating_sub(o.plan.start),
        );
        for log in s.gap_logs.iter().filter(|l| l.me == me) {
            let holes: Vec<Span> = log
                .holes(Duration::ZERO, measured)
                .into_iter()
                .map(|h| h.intersect(&measured))
                .filter(|h| !h.is_empty())
                .collect();
            let longest = holes.iter().map(|h| h.len()).max().unwrap_or_default();
            let ms = longest.as_secs_f64() * 1e3;
            match log.kind {
                StreamKind::Audio => {
                    r.audio_gaps += holes.iter().filter(|h| h.len() >= AUDIO_GAP).count();
                    r.audio_longest_gap_ms = r.audio_longest_gap_ms.max(ms);
                }
                StreamKind::Video if Some(&log.remote) == host.as_ref() => {
                    r.host_video_longest_gap_ms = r.host_video_longest_gap_ms.max(ms);
                }
                StreamKind::Video => {}
            }
        }
        for remote in &s.remotes {
            frames += remote.audio.frames;
            missing += remote.audio.frames_missing();
            r.videos_paused_at_end += usize::from(remote.paused_since.is_some());
            if Some(&remote.id) == host.as_ref() {
                r.host_video_pauses += remote.pauses;
            }
        }
    }
    r.audio_loss_percent = if frames + missing > 0 {
        missing as f64 * 100.0 / (frames + missing) as f64
    } else {
        0.0
    };
    r
}

/// The figure: server egress against the limit and the demand, and each room's share, Mbit/s
/// over the run.
pub fn svg(r: &BudgetReport) -> String {
    let points = |f: &dyn Fn(&BudgetSecond) -> Option<f64>| -> Vec<(f64, f64)> {
        r.seconds
            .iter()
            .filter_map(|s| Some((s.t, f(s)?)))
            .collect()
    };
    let end = r.seconds.last().map_or(1.0, |s| s.t);
    let mut lines = Vec::new();
    if let Some(limit) = r.limit_mbps {
        lines.push(Series::steps(
            "limit",
            "#000000",
            vec![(0.0, limit), (end, limit)],
        ));
    }
    let mut demand = Series::line(
        "demand (pages' wanted)",
        "#7f7f7f",
        points(&|s| s.demand_mbps),
    );
    demand.dashed = true;
    lines.push(demand);
    lines.push(Series::line(
        "server egress",
        "#d62728",
        points(&|s| s.egress_mbps),
    ));
    const ROOM_COLORS: [&str; 5] = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];
    for (i, color) in ROOM_COLORS.iter().enumerate().take(r.rooms.len()) {
        lines.push(Series::line(
            &format!("room {i} received"),
            color,
            points(&|s| s.rooms_mbps.get(i).copied()),
        ));
    }
    Plot {
        title: "budget: rooms asking for 3× the server's egress limit".into(),
        x_label: "seconds".into(),
        y_label: "Mbit/s (IP + UDP)".into(),
        series: lines,
    }
    .to_svg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_off_the_limit_fails_and_on_it_passes() {
        let mut r = BudgetReport {
            limit_mbps: Some(20.0),
            egress_mbps: Some(21.5),
            egress_ratio: Some(1.075),
            ..BudgetReport::default()
        };
        assert!(r.failures().is_empty(), "{:?}", r.failures());
        r.egress_ratio = Some(1.2);
        assert!(r.failures()[0].contains("120 % of the 20.0 Mbit/s limit"));
        r.egress_ratio = Some(0.85);
        assert_eq!(r.failures().len(), 1, "an unused budget is off target too");
        r.egress_ratio = Some(1.0);
        r.rooms.push(RoomBudget {
            room: 2,
            host_video_longest_gap_ms: 1500.0,
            audio_gaps: 1,
            audio_longest_gap_ms: 250.0,
            ..RoomBudget::default()
        });
        let f = r.failures();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].starts_with("room 2: the host's video stopped for 1500 ms"));
        assert!(svg(&r).contains("limit"));
    }
}
