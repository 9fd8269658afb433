//! What the server answered bad input with, tallied for `/metrics` (docs/operations.md,
//! "Metrics"): every `error` it sent, by code; every WebSocket it closed, by close code; and
//! the sockets it dropped for not reading what their room sent. Counted where the answer is
//! made, process-wide like the server itself, so that an admin sees a flood of wrong links or
//! a broken client as a number before anyone complains.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::ErrorCode;

static ERRORS: [AtomicU64; ErrorCode::ALL.len()] =
    [const { AtomicU64::new(0) }; ErrorCode::ALL.len()];

/// The close codes the server sends (RFC 6455 7.4.1, and 4000 for a fatal `error`); any other
/// is counted as `other`.
const CLOSE_CODES: [u16; 9] = [1000, 1001, 1002, 1007, 1008, 1009, 1011, 1013, 4000];
static CLOSES: [AtomicU64; CLOSE_CODES.len() + 1] =
    [const { AtomicU64::new(0) }; CLOSE_CODES.len() + 1];

static SLOW_SOCKETS: AtomicU64 = AtomicU64::new(0);

/// An `error` with `code` is being sent.
pub(crate) fn error_sent(code: ErrorCode) {
    ERRORS[code as usize].fetch_add(1, Ordering::Relaxed);
}

/// A WebSocket is being closed with `code`.
pub(crate) fn closed(code: u16) {
    let i = (CLOSE_CODES.iter().position(|c| *c == code)).unwrap_or(CLOSE_CODES.len());
    CLOSES[i].fetch_add(1, Ordering::Relaxed);
}

/// A socket was dropped because its client did not read what its room sent.
pub(crate) fn slow_socket_dropped() {
    SLOW_SOCKETS.fetch_add(1, Ordering::Relaxed);
}

/// The tallies as Prometheus samples (metrics.rs adds `# HELP` and `# TYPE`).
pub(crate) fn samples() -> String {
    let mut out = String::new();
    for (code, count) in ErrorCode::ALL.iter().zip(&ERRORS) {
        let n = count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "aula_errors_sent_total{{code=\"{}\"}} {n}",
            code.label()
        );
    }
    let labels = CLOSE_CODES.iter().map(|c| c.to_string());
    for (label, count) in labels.chain(["other".to_owned()]).zip(&CLOSES) {
        let n = count.load(Ordering::Relaxed);
        let _ = writeln!(out, "aula_websockets_closed_total{{code=\"{label}\"}} {n}");
    }
    let slow = SLOW_SOCKETS.load(Ordering::Relaxed);
    let _ = writeln!(out, "aula_websockets_dropped_slow_total {slow}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_counter_and_label() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code:?} out of order in ErrorCode::ALL");
        }
        let labels: std::collections::BTreeSet<_> =
            ErrorCode::ALL.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), ErrorCode::ALL.len(), "labels must differ");
    }

    #[test]
    fn what_is_tallied_shows_in_the_samples() {
        let count = |text: &str, line: &str| -> u64 {
            let prefix = format!("{line} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map_or(0, |n| n.parse().unwrap())
        };
        let before = samples();
        error_sent(ErrorCode::BadSecret);
        error_sent(ErrorCode::LobbyFull);
        closed(1007);
        closed(4321);
        slow_socket_dropped();
        let after = samples();
        for line in [
            "aula_errors_sent_total{code=\"bad_secret\"}",
            "aula_errors_sent_total{code=\"lobby_full\"}",
            "aula_websockets_closed_total{code=\"1007\"}",
            "aula_websockets_closed_total{code=\"other\"}",
            "aula_websockets_dropped_slow_total",
        ] {
            assert!(count(&after, line) > count(&before, line), "{line}");
        }
    }
}
