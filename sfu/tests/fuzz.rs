//! Mutation fuzzing of the core's two inputs from the network, with a fixed seed so any
//! finding replays exactly (cargo-fuzz needs a nightly compiler, which this project does not
//! use; this is the same idea on stable, run in every `cargo test`):
//!
//! 1. SDP offers: the corpus is the browsers' real offers in `tests/fixtures/` and
//!    `tests/corpus/*.sdp` (inputs that once went wrong go there). Each is altered (lines
//!    dropped, repeated, swapped, cut short, bytes flipped, numbers made huge) and sent as a
//!    `publish`.
//! 2. Datagrams: the corpus is what real clients send while joining and publishing (STUN
//!    binding requests, DTLS handshakes, SRTP and SRTCP), captured from the simulation; each is
//!    altered and sent again from the address it came from, past the demultiplexer into the
//!    connection it belongs to.
//!
//! The bar: no panic, every bad offer answered with an error, and the lesson that runs
//! meanwhile goes on. How long, and from which seed: `support/fuzz_plan.rs` (`AULA_FUZZ_SECS`
//! for a fixed-time run from a fresh seed, `AULA_FUZZ_SEED` and `AULA_FUZZ_ROUNDS` to replay).

mod common;
#[path = "support/fuzz_plan.rs"]
mod fuzz_plan;

use std::time::Duration;

use aula_sfu::worker::Output;
use aula_sfu::{Command, Kind, SfuEvent};
use common::Sim;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs round `round` of `plan`; a panic in it names the round and the seed that replay it.
fn replayable<T>(plan: &fuzz_plan::Plan, round: usize, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => panic!(
            "round {round} panicked: AULA_FUZZ_SEED={} AULA_FUZZ_ROUNDS={} replays it",
            plan.seed,
            round + 1
        ),
    }
}

/// The SDP corpus: the fixtures and anything added under tests/corpus.
fn sdp_corpus() -> Vec<String> {
    let mut corpus = Vec::new();
    for dir in ["tests/fixtures", "tests/corpus"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "sdp") {
                corpus.push(std::fs::read_to_string(e.path()).expect("a corpus file"));
            }
        }
    }
    assert!(corpus.len() >= 2, "the browsers' offers are the corpus");
    corpus
}

/// One alteration of an SDP text.
fn mutate_sdp(rng: &mut StdRng, sdp: &str) -> String {
    let mut lines: Vec<String> = sdp.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..4) {
        if lines.is_empty() {
            break;
        }
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..7) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(rng.random_range(0..=lines.len()), copy);
            }
            2 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            3 => {
                lines[i] = lines[i]
                    .chars()
                    .take(rng.random_range(0..=lines[i].len()))
                    .collect()
            }
            4 => {
                // Every number in the line made huge, negative or empty.
                let huge = ["4294967296", "99999999999999999999", "-1", ""][rng.random_range(0..4)];
                let mut out = String::new();
                let mut in_number = false;
                for c in lines[i].chars() {
                    if c.is_ascii_digit() {
                        if !in_number {
                            out.push_str(huge);
                        }
                        in_number = true;
                    } else {
                        in_number = false;
                        out.push(c);
                    }
                }
                lines[i] = out;
            }
            5 => {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let k = rng.random_range(0..bytes.len());
                    bytes[k] = rng.random_range(0x20..0x7f);
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                let junk = [
                    "m=video 9 UDP/TLS/RTP/SAVPF 96",
                    "a=simulcast:send a;b;c;d;e",
                    "a=rid:a send",
                    "a=ssrc-group:FID 1",
                    "a=extmap:15 urn:x",
                    "a=mid:",
                    "a=rtpmap:96 VP8/0",
                    "a=fmtp:96 apt=96",
                    "a=setup:actpass",
                    "c=IN IP4 x",
                ];
                lines.insert(i, junk[rng.random_range(0..junk.len())].to_string());
            }
        }
    }
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

fn offer_errors(sim: &mut Sim, who: usize, offer: String) -> (usize, usize) {
    let participant = sim.clients[who].id;
    let room = sim.room.clone();
    let cmd = Command::Publish {
        participant,
        offer,
        tracks: vec![],
    };
    sim.worker.handle_command(sim.now, &room, cmd);
    sim.no_room_failed();
    let (mut errors, mut answers) = (0, 0);
    while let Some(out) = sim.worker.poll_output() {
        if let Output::Event { event, .. } = out {
            match event {
                SfuEvent::Error { .. } => errors += 1,
                SfuEvent::PublishAnswer { .. } => answers += 1,
                _ => {}
            }
        }
    }
    (errors, answers)
}

#[test]
fn altered_sdp_offers_get_an_error_or_an_answer_and_the_lesson_goes_on() {
    let mut sim = Sim::new(31);
    sim.join();
    sim.publish(0);
    sim.join();
    let fuzzer = sim.join();
    sim.run_for(Duration::from_secs(1));
    let before = sim.frames(1, 0, Kind::Video).len();

    let corpus = sdp_corpus();
    let plan = fuzz_plan::Plan::from_env("SDP offers", 7, 3000);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let (mut refused, mut answered) = (0, 0);
    let mut round = 0;
    while plan.goes_on(round) {
        let offer = mutate_sdp(&mut rng, &corpus[round % corpus.len()]);
        let (errors, answers) = replayable(&plan, round, || {
            offer_errors(&mut sim, fuzzer, offer.clone())
        });
        assert!(
            errors + answers >= 1,
            "round {round}: an offer gets an error or an answer:\n{offer}"
        );
        refused += errors;
        answered += answers;
        if round % 500 == 0 {
            sim.run_for(Duration::from_millis(100));
        }
        round += 1;
    }
    eprintln!("altered offers: {round} rounds, {refused} refused, {answered} answered");
    assert!(refused > 0, "most alterations are refused");

    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.frames(1, 0, Kind::Video).len() > before + 20,
        "the lesson goes on"
    );
}

/// One alteration of a datagram.
fn mutate_datagram(rng: &mut StdRng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.random_range(0..5) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                if !d.is_empty() {
                    let i = rng.random_range(0..d.len());
                    d[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        1 => d.truncate(rng.random_range(0..=d.len())),
        2 => {
            let extra = rng.random_range(1..200);
            d.extend((0..extra).map(|_| rng.random::<u8>()));
        }
        3 => {
            // The header kept, the rest random: the demultiplexer sees a valid kind.
            let keep = d.len().min(rng.random_range(1..28));
            for b in &mut d[keep..] {
                *b = rng.random();
            }
        }
        _ => {
            // Length fields and counts at their limits.
            for i in [2usize, 3, 12, 13] {
                if i < d.len() {
                    d[i] = [0x00, 0xff][rng.random_range(0..2)];
                }
            }
        }
    }
    d
}

#[test]
fn altered_datagrams_from_known_addresses_are_dropped_and_the_lesson_goes_on() {
    let mut sim = Sim::new(32);
    sim.capture = Some(Vec::new());
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let corpus = sim.capture.take().expect("captured");
    let kinds = |lo: u8, hi: u8| {
        corpus
            .iter()
            .filter(|(_, _, d)| (lo..=hi).contains(&d[0]))
            .count()
    };
    let (stun, dtls, rtp) = (kinds(0, 3), kinds(20, 63), kinds(128, 191));
    assert!(
        stun > 0 && dtls > 0 && rtp > 0,
        "a real corpus: {stun} STUN, {dtls} DTLS, {rtp} RTP"
    );
    let before = sim.frames(1, 0, Kind::Video).len();

    let plan = fuzz_plan::Plan::from_env("datagrams", 8, 20_000);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut round = 0;
    while plan.goes_on(round) {
        let (source, destination, data) = &corpus[rng.random_range(0..corpus.len())];
        let altered = mutate_datagram(&mut rng, data);
        replayable(&plan, round, || {
            sim.worker
                .handle_datagram(sim.now, *source, *destination, &altered);
            while sim.worker.poll_output().is_some() {}
            sim.no_room_failed();
            if round % 2000 == 0 {
                sim.run_for(Duration::from_millis(50));
            }
        });
        round += 1;
    }
    eprintln!(
        "altered datagrams: {round} rounds, corpus of {} ({stun} STUN, {dtls} DTLS, {rtp} RTP)",
        corpus.len()
    );

    sim.run_for(Duration::from_secs(2));
    assert!(
        sim.frames(1, 0, Kind::Video).len() > before + 40,
        "the lesson goes on"
    );
}
