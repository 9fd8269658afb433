use super::*;
use crate::scenario::Kind;
use crate::stats::{QueueNote, RemoteStats};

fn spec() -> Scenario {
    let mut spec = Scenario::new(Kind::Surge);
    (spec.participants, spec.rooms) = (4, 1);
    spec
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Someone arriving at `arrive`, whose bot started at `started` and, from its start, was
/// queued at the `queue` positions (one a second), joined at `joined` and got media at
/// `media`.
fn person(
    arrive: f64,
    started: f64,
    queue: &[usize],
    joined: Option<f64>,
    media: Option<f64>,
) -> Person {
    let people = super::super::arrivals(&spec());
    let mut p = Person::new(people[1].clone());
    p.arrival.plan.start = secs(arrive);
    p.started = Some(secs(started));
    p.last = Some(BotStats {
        joined: joined.map(secs),
        first_media: media.map(secs),
        queue: queue
            .iter()
            .enumerate()
            .map(|(i, &position)| QueueNote {
                at: secs(i as f64),
                position,
                waiting: 10,
                wait_secs: None,
            })
            .collect(),
        ..BotStats::default()
    });
    p
}

#[test]
fn a_wait_runs_from_arrival_and_first_media_from_admission() {
    let p = person(1.0, 1.5, &[5, 3, 1], Some(3.0), Some(3.25));
    assert_eq!(p.admitted(), Some(secs(4.5)));
    assert_eq!(p.wait(), Some(secs(3.5)), "the page load counts");
    assert_eq!(p.first_media(), Some(secs(0.25)));
    assert_eq!(p.positions(), [(1.5, 5), (2.5, 3), (3.5, 1)]);
    let never = person(1.0, 1.5, &[9], None, None);
    assert_eq!(
        (never.admitted(), never.wait(), never.first_media()),
        (None, None, None)
    );
    assert!(never.waiting());
}

#[test]
fn loss_is_missing_over_expected_and_a_window_is_a_difference() {
    let mut remote = RemoteStats::default();
    remote.audio.frames = 990;
    remote.audio.seq_range = Some((0, 999));
    remote.audio.range_frames = 990;
    remote.video.frames = 300;
    let bot = BotStats {
        remotes: vec![remote],
        ..BotStats::default()
    };
    let c = LossCount::of(&[bot.clone(), bot]);
    assert_eq!(
        (c.audio_frames, c.audio_missing, c.video_frames),
        (1980, 20, 600)
    );
    assert!((c.audio_percent() - 1.0).abs() < 1e-9);
    assert_eq!(c.video_percent(), 0.0);
    assert!((c.percent() - 20.0 * 100.0 / 2600.0).abs() < 1e-9);
    let earlier = LossCount {
        audio_frames: 980,
        audio_missing: 20,
        ..LossCount::default()
    };
    let window = c.since(&earlier);
    assert_eq!((window.audio_frames, window.audio_missing), (1000, 0));
    assert_eq!(
        LossCount::default().percent(),
        0.0,
        "nothing expected, nothing lost"
    );
}

#[test]
fn extra_loss_is_the_surge_window_over_the_baseline() {
    let sample = |frames: u64, missing: u64| RunningSample {
        answered: 10,
        loss: LossCount {
            video_frames: frames,
            video_missing: missing,
            ..LossCount::default()
        },
    };
    let s = [sample(0, 0), sample(999, 1), sample(1989, 11)];
    let l = running_loss(&spec(), &s, secs(60.0)).expect("three samples");
    assert!((l.baseline.percent - 0.1).abs() < 1e-9);
    assert!((l.surge.percent - 1.0).abs() < 1e-9);
    assert!((l.extra_percent - 0.9).abs() < 1e-9);
    assert!((l.surge.frames_per_s - 990.0 / 60.0).abs() < 1e-9);
    assert_eq!(running_loss(&spec(), &s[..1], secs(1.0)), None);
}

#[test]
fn the_verdict_names_every_missed_target() {
    let mut people = vec![
        person(0.0, 0.1, &[], Some(0.2), Some(0.5)),
        person(0.5, 0.6, &[3, 2, 1], Some(3.0), Some(3.3)),
    ];
    let r = SurgeReport::build(&spec(), &people, &[], &[], secs(30.0));
    assert!(r.verdict.ok, "{:?}", r.verdict);
    assert_eq!(
        (r.admitted, r.queued, r.positions_fell, r.positions_rose),
        (2, 1, 1, 0)
    );
    assert_eq!(r.wait_s.max, Some(3.1));
    people.push(person(1.0, 1.1, &[4, 5], None, None));
    people[0].ended = Some(Ended {
        error: Some("no joined within 10s".into()),
    });
    let mut page = PageLoad::default();
    page.statuses.record(503);
    people[1].page = Some(page);
    let r = SurgeReport::build(&spec(), &people, &[], &[], secs(30.0));
    assert_eq!((r.failures, r.join_timeouts, r.positions_rose), (1, 1, 1));
    assert_eq!(r.not_admitted.len(), 1);
    assert_eq!(r.verdict.failures.len(), 3, "{:?}", r.verdict.failures);
    assert!(render(&r).contains("VERDICT:"));
    assert!(svg(&r, "t").starts_with("<svg"));
}
