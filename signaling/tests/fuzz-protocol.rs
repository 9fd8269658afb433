//! Mutation fuzzing of the signaling parser, with a fixed seed so a finding replays exactly
//! (cargo-fuzz needs a nightly compiler; this is the same idea on stable, in every
//! `cargo test`). The corpus is `tests/corpus/client-messages.jsonl`, one valid message of
//! every type (inputs that once went wrong are added there). Each is altered, as text and as
//! JSON (fields dropped, values of the wrong type, deep nesting, long and odd strings), and
//! parsed, then the names and chat texts in it checked as the server checks them.
//!
//! The bar: no panic, and every message is either a client message or an error with a code.
//! How long, and from which seed: `../../sfu/tests/support/fuzz_plan.rs` (`AULA_FUZZ_SECS`,
//! `AULA_FUZZ_SEED`, `AULA_FUZZ_ROUNDS`).

#[path = "../../sfu/tests/support/fuzz_plan.rs"]
mod fuzz_plan;

use aula_signaling::protocol::{self, ClientMsg};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn corpus() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/client-messages.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the corpus");
    let corpus: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus lines are JSON"))
        .collect();
    for v in &corpus {
        assert!(protocol::parse(&v.to_string()).is_ok(), "a valid seed: {v}");
    }
    corpus
}

fn odd_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("\u{202E}\u{200B}\u{0}x"),
        7 => json!("ä".repeat(rng.random_range(0..70_000))),
        8 => json!([]),
        9 => json!({}),
        10 => json!("p99999999999999999999"),
        _ => json!([{"participant": "p0", "width": -5, "height": 1e9}]),
    }
}

/// One alteration of a message, as JSON or as text.
fn mutate(rng: &mut StdRng, seed: &Value) -> String {
    let mut v = seed.clone();
    let keys: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    match rng.random_range(0..7) {
        0 if !keys.is_empty() => {
            let k = &keys[rng.random_range(0..keys.len())];
            v.as_object_mut().unwrap().remove(k);
        }
        1 if !keys.is_empty() => {
            let k = keys[rng.random_range(0..keys.len())].clone();
            v[k] = odd_value(rng);
        }
        2 => {
            // Deep nesting: a parser that recurses must give up, not overflow the stack.
            let depth = rng.random_range(100..5000);
            let text = v.to_string();
            let nested = format!("{}{}{}", "[".repeat(depth), text, "]".repeat(depth));
            return nested;
        }
        3 => {
            let mut bytes = v.to_string().into_bytes();
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        4 => {
            let text = v.to_string();
            return text[..rng.random_range(0..text.len())].to_string();
        }
        5 => {
            let types = [
                "join", "chat", "view", "settings", "set_role", "publish", "nope", "",
            ];
            v["type"] = json!(types[rng.random_range(0..types.len())]);
        }
        _ => {
            v["extra"] = odd_value(rng);
        }
    }
    v.to_string()
}

#[test]
fn altered_client_messages_parse_or_are_refused_with_a_code() {
    let corpus = corpus();
    let plan = fuzz_plan::Plan::from_env("client messages", 11, 20_000);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let (mut ok, mut refused) = (0, 0);
    let mut round = 0;
    while plan.goes_on(round) {
        let seed = &corpus[rng.random_range(0..corpus.len())];
        let text = mutate(&mut rng, seed);
        let parsed = std::panic::catch_unwind(|| {
            let parsed = protocol::parse(&text);
            if let Ok(ClientMsg::Join { name, .. }) = &parsed {
                drop(protocol::clean_name(name));
            }
            if let Ok(ClientMsg::Chat { text }) = &parsed {
                drop(protocol::clean_chat(text));
            }
            parsed.map(|_| ())
        });
        match parsed {
            Ok(Ok(())) => ok += 1,
            Ok(Err((code, why))) => {
                refused += 1;
                assert!(
                    !code.as_str().is_empty() && !why.is_empty(),
                    "round {round}"
                );
            }
            Err(_) => panic!("round {round} (seed {}) panicked on {text:?}", plan.seed),
        }
        round += 1;
    }
    eprintln!("altered messages: {round} rounds, {ok} parsed, {refused} refused");
    assert!(ok > 0 && refused > 0);
}
