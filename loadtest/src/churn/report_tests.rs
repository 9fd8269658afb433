//! The churn report from hand-made bot stats: a teacher who publishes, a student who stays
//! and a student who rejoins. No sockets, no clock but one `Instant` as the run's start.

use std::time::{Duration, Instant};

use super::*;
use crate::BotReport;
use crate::procstat::{MachineSample, ProcSample};
use crate::scenario::{BotPlan, Media};
use crate::stats::{ChurnRecord, Presence};

fn at(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// A receiving log of `remote`'s audio, a frame every 20 ms from `from` to `to` s, silent in
/// `(a, b)`.
fn log(me: &str, remote: &str, from: f64, to: f64, silent: Option<(f64, f64)>) -> GapLog {
    let mut log = GapLog::new(me, remote, StreamKind::Audio);
    let mut ms = (from * 1000.0) as u64;
    while ms as f64 <= to * 1000.0 {
        let t = ms as f64 / 1000.0;
        if !silent.is_some_and(|(a, b)| t > a && t < b) {
            log.record(Duration::from_millis(ms));
        }
        ms += 20;
    }
    log
}

fn presence(id: &str, joined: f64, left: Option<f64>) -> Presence {
    Presence {
        id: id.into(),
        joined: at(joined),
        left: left.map(at),
    }
}

fn bot(name: &str, audio: bool, start: Instant, stats: BotStats) -> Outcome {
    let media = Media { audio, video: None };
    let plan = BotPlan {
        room: 0,
        host: name.ends_with("teacher"),
        name: name.into(),
        media,
        view: crate::view::ViewPolicy::None,
        start: Duration::ZERO,
        link: None,
    };
    let stats = BotStats {
        name: name.into(),
        epoch: Some(start),
        ..stats
    };
    Outcome {
        plan,
        report: Some(BotReport { stats, error: None }),
        steady: None,
    }
}

/// The teacher (p0) publishes audio from 1 s to 30 s. Student 1 (p1) receives it all but for
/// a silence in `silent`; student 2 left as p2 at 19.5 s and was back as p3, publishing,
/// at 20 s.
fn class(start: Instant, silent: Option<(f64, f64)>) -> Vec<Outcome> {
    let teacher = BotStats {
        presences: vec![presence("p0", 1.0, None)],
        ..BotStats::default()
    };
    let stayer = BotStats {
        presences: vec![presence("p1", 1.0, None)],
        gap_logs: vec![log("p1", "p0", 1.1, 30.0, silent)],
        ..BotStats::default()
    };
    let rejoin = ChurnRecord {
        reconnecting: Some(at(19.8)),
        joined: Some(at(19.81)),
        back: Some(at(20.0)),
        ..ChurnRecord::new(Churn::Rejoin, at(19.5))
    };
    let churner = BotStats {
        presences: vec![presence("p2", 1.0, Some(19.5)), presence("p3", 19.81, None)],
        churns: vec![rejoin],
        gap_logs: vec![
            log("p2", "p0", 1.1, 19.5, None),
            log("p3", "p0", 19.9, 30.0, None),
        ],
        ..BotStats::default()
    };
    vec![
        bot("r0-teacher", true, start, teacher),
        bot("r0-student-1", false, start, stayer),
        bot("r0-student-2", false, start, churner),
    ]
}

/// One sample a second up to `end` s: the bots and the server use a core between them, the
/// machine is half busy, and in the seconds of `starved` the others take it all and leave
/// ours a tenth.
fn samples(end: u64, starved: &[u64]) -> Vec<Sample> {
    let (mut ours, mut busy) = (Duration::ZERO, Duration::ZERO);
    (0..=end)
        .map(|s| {
            if s > 0 {
                let taken = starved.contains(&(s - 1));
                ours += if taken { at(0.1) } else { at(1.0) };
                busy += if taken { at(2.0) } else { at(1.0) };
            }
            Sample {
                at: at(s as f64),
                loadtest: Some(ProcSample {
                    cpu: ours,
                    rss_bytes: 1,
                }),
                machine: Some(MachineSample {
                    busy,
                    total: at(2.0 * s as f64),
                }),
                ..Sample::default()
            }
        })
        .collect()
}

fn build(outcomes: &[Outcome], samples: &[Sample], start: Instant) -> ChurnReport {
    let conducted = Conducted {
        planned: 1,
        sent: 1,
        skipped: 0,
    };
    let spec = ChurnSpec::default();
    ChurnReport::build(&spec, conducted, outcomes, samples, start, Duration::ZERO)
}

#[test]
fn a_stayer_silenced_during_someone_elses_rejoin_fails_the_run() {
    let start = Instant::now();
    let report = build(&class(start, Some((20.0, 21.5))), &samples(30, &[]), start);
    // p1 from p0, p2 from p0 and p3 from p0: the teacher is the only publisher.
    assert_eq!(report.pairs, 3);
    assert_eq!(report.gaps_over_1s_by_churn, 1);
    assert!(
        report.worst_gaps[0].contains("r0-student-1 from r0-teacher (audio): 1.5"),
        "{:?}",
        report.worst_gaps
    );
    assert!(report.worst_gaps[0].contains("during r0-student-2's churn"));
    assert_eq!(report.rejoins.started, 1);
    assert_eq!(report.rejoins.back, 1);
    assert_eq!(report.rejoin_ms.max, Some(10.0));
    assert_eq!(report.not_back(), 0);
    assert_eq!(report.failures().len(), 1, "{:?}", report.failures());
}

#[test]
fn the_churners_own_return_is_not_a_stayer_gap() {
    let start = Instant::now();
    let report = build(&class(start, None), &samples(30, &[]), start);
    // p3 heard the teacher 90 ms after joining: its own churn, not counted.
    assert_eq!(report.longest_gap_ms.max, Some(0.0));
    assert!(report.failures().is_empty(), "{:?}", report.failures());
    assert!(report.worst_gaps.is_empty());
}

#[test]
fn a_gap_while_other_work_held_the_machine_is_not_judged() {
    let start = Instant::now();
    let report = build(
        &class(start, Some((20.0, 21.5))),
        &samples(30, &[20]),
        start,
    );
    assert_eq!(report.starved_s, [[20.0, 21.0]]);
    assert_eq!(report.gaps_over_1s_by_churn, 0);
    assert_eq!(report.gaps_over_1s_starved, 1);
    assert!(report.failures().is_empty(), "{:?}", report.failures());
}

#[test]
fn failed_renegotiations_and_missing_returns_fail_the_run() {
    let start = Instant::now();
    let mut outcomes = class(start, None);
    let report = outcomes[2].report.as_mut().expect("a report");
    report.stats.churns[0].back = None;
    report.stats.renegotiations_failed = 2;
    let report = build(&outcomes, &samples(30, &[]), start);
    assert_eq!(report.renegotiations_failed(), 2);
    assert_eq!(report.not_back(), 1);
    let failures = report.failures().join("; ");
    assert!(
        failures.contains("failed renegotiations (server 0, bots 2)"),
        "{failures}"
    );
    assert!(
        failures.contains("1 churners never came back"),
        "{failures}"
    );
}
