//! How long the mutation fuzzers run, shared by `sfu/tests/fuzz.rs` and
//! `signaling/tests/fuzz-protocol.rs` (included by path).
//!
//! By default a fixed number of rounds from a fixed seed: every `cargo test` tries the same
//! inputs. `AULA_FUZZ_SECS=N` runs for N seconds from a fresh seed instead (the test script's
//! fixed-time run, new inputs every time) and prints the seed; a finding names its round, and
//! `AULA_FUZZ_SEED=<seed> AULA_FUZZ_ROUNDS=<round + 1>` replays it exactly.
//! `AULA_FUZZ_ROUNDS` alone runs more (or fewer) rounds from the fixed seed.

use std::time::{Duration, Instant, SystemTime};

pub struct Plan {
    pub seed: u64,
    rounds: usize,
    until: Option<Instant>,
}

impl Plan {
    /// The plan for fuzzer `name`, whose fixed seed is `seed` and which runs `rounds` rounds
    /// by default.
    pub fn from_env(name: &str, seed: u64, rounds: usize) -> Plan {
        let var = |key: &str| std::env::var(key).ok().and_then(|v| v.parse::<u64>().ok());
        let until = var("AULA_FUZZ_SECS").map(|s| Instant::now() + Duration::from_secs(s));
        let fresh = || {
            let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
            since.map(|d| d.as_nanos() as u64).unwrap_or(seed)
        };
        let seed =
            var("AULA_FUZZ_SEED").unwrap_or_else(|| if until.is_some() { fresh() } else { seed });
        let default = if until.is_some() { usize::MAX } else { rounds };
        let rounds = var("AULA_FUZZ_ROUNDS").map_or(default, |r| r as usize);
        eprintln!("{name}: seed {seed} (AULA_FUZZ_SEED={seed} replays it)");
        Plan {
            seed,
            rounds,
            until,
        }
    }

    /// Whether round `round` (from 0) is run.
    pub fn goes_on(&self, round: usize) -> bool {
        round < self.rounds && self.until.is_none_or(|t| Instant::now() < t)
    }
}
