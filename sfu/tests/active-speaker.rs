//! Active speaker: the SFU reads the audio level each publisher puts on its audio packets and
//! tells every participant who is speaking and who the dominant speaker is, only when that
//! changes. Muted (gated) audio never counts.

use crate::common;

use std::time::{Duration, Instant};

use aula_sfu::{ParticipantId, Source};
use common::{Sim, SpeakersSeen};

const LOUD: i8 = -20;
const QUIET: i8 = -70;
const SILENT: i8 = -110;

/// Three participants publishing at the given levels, connected and running for a second.
fn class(seed: u64, levels: [i8; 3]) -> Sim {
    let mut sim = Sim::new(seed);
    for (i, level) in levels.into_iter().enumerate() {
        sim.join();
        sim.clients[i].audio_level = Some(level);
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(1));
    sim
}

fn id(sim: &Sim, i: usize) -> ParticipantId {
    sim.clients[i].id
}

fn seen_after(sim: &Sim, i: usize, t: Instant) -> Vec<SpeakersSeen> {
    let seen = &sim.clients[i].speakers;
    seen.iter().filter(|s| s.at > t).cloned().collect()
}

#[test]
fn the_loud_publisher_speaks_and_dominates_the_quiet_one_does_not() {
    let mut sim = class(31, [SILENT, SILENT, SILENT]);
    let start = sim.now;
    sim.clients[0].audio_level = Some(LOUD);
    sim.clients[1].audio_level = Some(QUIET);
    sim.run_for(Duration::from_secs(3));

    let (p0, p1) = (id(&sim, 0), id(&sim, 1));
    for i in 0..3 {
        let seen = seen_after(&sim, i, start);
        let last = seen.last().expect("speakers announced");
        assert_eq!(last.speaking, [p0], "at {i}");
        assert_eq!(last.dominant, Some(p0), "at {i}");
        assert!(seen.iter().all(|s| !s.speaking.contains(&p1)), "{seen:?}");
    }
    // The level also reaches the subscribers, for the browser's own use.
    let audio = sim.frames(2, 0, aula_sfu::Kind::Audio);
    assert_eq!(audio.last().and_then(|f| f.audio_level), Some(LOUD));
}

#[test]
fn dominant_moves_to_a_new_speaker_after_the_hold_without_flapping() {
    let mut sim = class(32, [LOUD, SILENT, SILENT]);
    sim.run_for(Duration::from_secs(2));
    let (p0, p1) = (id(&sim, 0), id(&sim, 1));
    assert_eq!(sim.clients[2].speakers.last().unwrap().dominant, Some(p0));

    let switched = sim.now;
    sim.clients[0].audio_level = Some(SILENT);
    sim.clients[1].audio_level = Some(LOUD);
    sim.run_for(Duration::from_secs(3));

    let seen = seen_after(&sim, 2, switched);
    let moved = seen
        .iter()
        .find(|s| s.dominant == Some(p1))
        .expect("dominant moves to the new speaker");
    let after = moved.at - switched;
    assert!(after >= Duration::from_millis(400), "moved after {after:?}");
    assert!(
        after <= Duration::from_millis(1200),
        "moved after {after:?}"
    );
    let dominants: Vec<_> = seen.iter().map(|s| s.dominant).collect();
    assert!(
        dominants
            .iter()
            .skip_while(|d| **d != Some(p1))
            .all(|d| *d == Some(p1)),
        "dominant flapped: {dominants:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(last.speaking, [p1]);
}

#[test]
fn muting_the_dominant_speaker_removes_it_from_speaking() {
    let mut sim = class(33, [LOUD, SILENT, SILENT]);
    sim.run_for(Duration::from_secs(2));
    let p0 = id(&sim, 0);

    let muted = sim.now;
    sim.gate(0, Source::Microphone, false);
    // The client does not care and goes on sending loud audio.
    sim.run_for(Duration::from_secs(2));
    for i in 0..3 {
        let seen = seen_after(&sim, i, muted);
        assert_eq!(seen.len(), 1, "one change at {i}: {seen:?}");
        assert!(seen[0].at - muted <= Duration::from_millis(250), "{seen:?}");
        assert!(seen[0].speaking.is_empty());
        assert_eq!(seen[0].dominant, Some(p0), "dominant stays through silence");
    }
}

#[test]
fn speakers_are_announced_only_when_they_change() {
    let mut sim = class(34, [SILENT, SILENT, SILENT]);
    let start = sim.now;
    sim.clients[0].audio_level = Some(LOUD);
    sim.run_for(Duration::from_secs(5));
    let p0 = id(&sim, 0);
    for i in 0..3 {
        let seen = seen_after(&sim, i, start);
        let states: Vec<_> = seen
            .iter()
            .map(|s| (s.speaking.clone(), s.dominant))
            .collect();
        assert_eq!(
            states,
            [(vec![p0], None), (vec![p0], Some(p0))],
            "at {i}: speaking, then dominant, then nothing"
        );
    }
}

#[test]
fn a_newcomer_hears_who_speaks_when_it_joins() {
    let mut sim = class(35, [LOUD, SILENT, SILENT]);
    sim.run_for(Duration::from_secs(2));
    let late = sim.join();
    sim.run_for(Duration::from_millis(10));
    let seen = &sim.clients[late].speakers;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].dominant, Some(id(&sim, 0)));
}
