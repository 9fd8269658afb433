//! A model of a lesson's churn in simulated time: seeded random sequences of joins, leaves,
//! publishes, sources turned off and on again, screen shares, publish reconnects, lost
//! sockets and resumes (with and without a page reload) and ICE restarts, over 2-12
//! participants. After every step every offer and answer must apply on both sides, and every
//! offer must keep the earlier m-lines in order and never stop one (what Chrome holds an SFU
//! to); at regular checkpoints every subscriber must receive every stream it should.
//!
//! The case that broke lessons in Chrome (the first participant, usually the teacher, leaves
//! and everyone's subscribe connection fails) is the scripted test below and recurs in the
//! random runs; with the old stop-the-m-line code every seed fails on the JSEP check.

use crate::common;

use std::time::Duration;

use aula_sfu::{Kind, Source};
use common::Sim;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const STEPS: usize = 1000;
const CHECK_EVERY: usize = 40;
const MAX_PEOPLE: usize = 12;

/// What the model expects of one client.
#[derive(Debug, Clone, Copy, Default)]
struct Person {
    present: bool,
    /// Has a publish connection.
    publishing: bool,
    audio: bool,
    video: bool,
    screen: bool,
}

struct Model {
    seed: u64,
    sim: Sim,
    rng: StdRng,
    people: Vec<Person>,
    log: Vec<String>,
}

impl Model {
    fn new(seed: u64) -> Model {
        Model {
            seed,
            sim: Sim::new(seed),
            rng: StdRng::seed_from_u64(seed),
            people: Vec::new(),
            log: Vec::new(),
        }
    }

    fn present(&self) -> Vec<usize> {
        (0..self.people.len())
            .filter(|i| self.people[*i].present)
            .collect()
    }

    fn publishers(&self) -> Vec<usize> {
        let p = self.present();
        p.into_iter()
            .filter(|i| self.people[*i].publishing)
            .collect()
    }

    fn pick(&mut self, from: &[usize]) -> Option<usize> {
        (!from.is_empty()).then(|| from[self.rng.random_range(0..from.len())])
    }

    fn join(&mut self, publish: bool) -> usize {
        let i = self.sim.join();
        let c = &mut self.sim.clients[i];
        c.audio_interval = Duration::from_millis(100);
        c.video_interval = Duration::from_millis(200);
        // Small frames: a dozen cameras and screens must fit what a subscriber's estimate
        // allows after a simulated outage, or the allocator (rightly) pauses some.
        c.video_bytes = 600;
        let mut person = Person {
            present: true,
            ..Person::default()
        };
        if publish {
            self.sim.publish(i);
            person = Person {
                publishing: true,
                audio: true,
                video: true,
                ..person
            };
        }
        self.people.push(person);
        i
    }

    /// One random step; returns what it did.
    fn step(&mut self) -> String {
        let present = self.present();
        let publishers = self.publishers();
        let roll = self.rng.random_range(0..100);
        match roll {
            0..15 if present.len() < MAX_PEOPLE => {
                let publish = self.rng.random_bool(0.8);
                let i = self.join(publish);
                format!("join {i} publish={publish}")
            }
            15..27 if present.len() > 2 => {
                // The first one present (the teacher, in a class) leaves more often.
                let i = if self.rng.random_bool(0.3) {
                    present[0]
                } else {
                    self.pick(&present).expect("present")
                };
                self.sim.leave(i);
                self.people[i] = Person::default();
                format!("leave {i}")
            }
            27..45 if !publishers.is_empty() => {
                let i = self.pick(&publishers).expect("publishers");
                let mut p = self.people[i];
                match self.rng.random_range(0..3) {
                    0 => p.audio = !p.audio,
                    1 => p.video = !p.video,
                    _ => p.screen = !p.screen,
                }
                if !self.sim.renegotiate_publish(i, p.audio, p.video, p.screen) {
                    return format!("renegotiate {i}: still waiting for an answer");
                }
                self.people[i] = p;
                format!("renegotiate {i} {p:?}")
            }
            45..52 if !present.is_empty() => {
                let i = self.pick(&present).expect("present");
                let p = &mut self.people[i];
                if !p.publishing || !p.audio || !p.video {
                    // (Re)publishes on a new connection: microphone and camera, no screen.
                    *p = Person {
                        present: true,
                        publishing: true,
                        audio: true,
                        video: true,
                        screen: false,
                    };
                    self.sim.publish(i);
                    format!("publish anew {i}")
                } else {
                    p.screen = false;
                    self.sim.publish(i); // a network change: a new publish connection
                    format!("reconnect publish {i}")
                }
            }
            52..60 if !present.is_empty() => {
                let i = self.pick(&present).expect("present");
                self.sim.clients[i].offline = true;
                format!("socket lost {i}")
            }
            60..70 if !present.is_empty() => {
                let i = self.pick(&present).expect("present");
                let fresh = self.rng.random_bool(0.5);
                self.sim.resume(i, fresh);
                if fresh {
                    let p = &mut self.people[i];
                    if p.publishing {
                        (p.audio, p.video, p.screen) = (true, true, false);
                    }
                }
                format!("resume {i} fresh={fresh}")
            }
            70..78 if !present.is_empty() => {
                let i = self.pick(&present).expect("present");
                if self.rng.random_bool(0.5) {
                    self.sim.restart_subscribe_ice(i);
                    format!("ice restart subscribe {i}")
                } else {
                    self.sim.restart_publish_ice(i);
                    format!("ice restart publish {i}")
                }
            }
            _ => "wait".into(),
        }
    }

    /// Errors any present client saw: refused offers or answers, JSEP violations, SFU errors.
    /// Rate-limited ICE restarts are the SFU doing its job and are fine.
    fn check_errors(&mut self, step: usize) {
        for i in self.present() {
            let c = &mut self.sim.clients[i];
            c.errors.retain(|e| !e.contains("too many ICE restarts"));
            assert!(
                c.errors.is_empty(),
                "seed {} step {step}: client {i} saw {:?}\nlast steps: {:#?}",
                self.seed,
                c.errors,
                self.log.iter().rev().take(15).collect::<Vec<_>>()
            );
        }
    }

    /// Brings everyone's signaling back, lets things settle, and checks that every present
    /// subscriber receives every stream every present publisher sends.
    fn checkpoint(&mut self, step: usize) {
        for i in self.present() {
            if self.sim.clients[i].offline {
                self.sim.resume(i, false);
                self.log
                    .push(format!("resume {i} fresh=false (checkpoint)"));
            }
        }
        self.sim.run_for(Duration::from_secs(2));
        let since = self.sim.now - Duration::from_millis(800);
        for s in self.present() {
            for p in self.publishers().into_iter().filter(|p| *p != s) {
                let want = self.people[p];
                let from = self.sim.clients[p].id;
                let expected = [
                    (want.audio, Kind::Audio, Source::Microphone),
                    (want.video, Kind::Video, Source::Camera),
                    (want.screen, Kind::Video, Source::Screen),
                ];
                for (_, kind, source) in expected.into_iter().filter(|e| e.0) {
                    let got = self.sim.clients[s].received.iter().any(|r| {
                        r.from == from && r.kind == kind && r.source == source && r.at >= since
                    });
                    // Or the allocator had it paused for want of bandwidth at some time in
                    // the window (after an outage the estimate takes a while to recover), and
                    // told the subscriber so.
                    let told = &self.sim.clients[s].bandwidth;
                    let before = told.iter().rposition(|b| b.0 < since).unwrap_or(0);
                    let paused = told
                        .get(before..)
                        .unwrap_or_default()
                        .iter()
                        .any(|b| b.1.contains(&(from, source)));
                    let got = got || (kind == Kind::Video && paused);
                    assert!(
                        got,
                        "seed {} step {step}: {s} receives no {source:?} from {p}\nlast steps: {:#?}",
                        self.seed,
                        self.log.iter().rev().take(25).collect::<Vec<_>>()
                    );
                }
            }
        }
        // Keep memory flat over a long run.
        for c in &mut self.sim.clients {
            c.received.clear();
        }
    }

    fn run(&mut self) {
        for _ in 0..3 {
            self.join(true);
        }
        for step in 0..STEPS {
            let what = self.step();
            self.log.push(what);
            let ms = self.rng.random_range(50..300);
            self.sim.run_for(Duration::from_millis(ms));
            self.check_errors(step);
            if step % CHECK_EVERY == CHECK_EVERY - 1 {
                self.checkpoint(step);
            }
        }
        self.checkpoint(STEPS);
    }
}

#[test]
fn random_churn_seed_1() {
    Model::new(1).run();
}

#[test]
fn random_churn_seed_7() {
    Model::new(7).run();
}

#[test]
fn random_churn_seed_42() {
    Model::new(42).run();
}

/// The lesson that broke: a teacher and three students see each other; the teacher (the first
/// m-lines of everyone's subscribe connection) leaves; the students go on seeing each other;
/// she comes back (a new participant) and everyone sees everyone again, on reused m-lines.
#[test]
fn the_teacher_leaves_first_and_comes_back() {
    let mut m = Model::new(3);
    for _ in 0..4 {
        m.join(true);
    }
    m.checkpoint(0);
    let m_lines: Vec<usize> = (1..4).map(|i| m.sim.clients[i].offers).collect();
    m.sim.leave(0);
    m.people[0] = Person::default();
    m.sim.run_for(Duration::from_millis(500));
    m.check_errors(1);
    m.checkpoint(1);
    assert!(
        (1..4).all(|i| m.sim.clients[i].resets == 0),
        "no subscribe connection had to be rebuilt"
    );
    m.join(true);
    m.checkpoint(2);
    for (k, i) in (1..4).enumerate() {
        assert!(
            m.sim.clients[i].offers > m_lines[k],
            "{i} was offered the change"
        );
        assert_eq!(m.sim.clients[i].resets, 0);
    }
}
