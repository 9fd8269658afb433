//! Counters for /metrics and the load tester. Readers bump atomics; each worker publishes a
//! copy of its core's counters after every loop turn.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::worker::CoreStats;

pub(crate) struct Metrics {
    datagrams_in: AtomicU64,
    bytes_in: AtomicU64,
    datagrams_unroutable: AtomicU64,
    datagrams_queue_full: AtomicU64,
    commands_refused: AtomicU64,
    datagrams_out: AtomicU64,
    bytes_out: AtomicU64,
    send_errors: AtomicU64,
    /// A std Mutex, not a tokio one: nothing awaits while it is held, and it is taken once per
    /// worker loop turn and once per scrape.
    workers: Vec<Mutex<CoreStats>>,
}

/// Sums over every room's bandwidth picture (gauges, as of the latest allocations).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BandwidthSnapshot {
    pub egress_limit: Option<u64>,
    /// The lower limit in force while the CPU is tight, if any (bit/s).
    pub pressure_limit: Option<u64>,
    /// Subscribers in rooms, and how many of them have an estimate yet.
    pub subscribers: u64,
    pub estimated: u64,
    /// Sum of the estimates (bit/s).
    pub estimate_sum: u64,
    /// What the chosen layers send, and what every shown video at full size would (bit/s).
    pub allocated: u64,
    pub wanted: u64,
    /// Subscribers held back by their own link; subscribers getting audio only.
    pub limited: u64,
    pub audio_only: u64,
    /// Videos shown but paused for want of bandwidth.
    pub paused: u64,
    /// Videos forwarded at layer 0, 1 and 2.
    pub layers: [u64; 3],
}

/// A point-in-time copy of every counter, summed over workers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_unroutable: u64,
    pub datagrams_queue_full: u64,
    /// Clients' commands refused for a worker's full queue (`SendError::Busy`).
    pub commands_refused: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub send_errors: u64,
    pub core: CoreStats,
}

impl Metrics {
    pub fn new(workers: usize) -> Metrics {
        Metrics {
            datagrams_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            datagrams_unroutable: AtomicU64::new(0),
            datagrams_queue_full: AtomicU64::new(0),
            commands_refused: AtomicU64::new(0),
            datagrams_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            workers: (0..workers).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn count_in(&self, bytes: usize) {
        self.datagrams_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub fn count_unroutable(&self) {
        self.datagrams_unroutable.fetch_add(1, Relaxed);
    }

    pub fn count_command_refused(&self) {
        self.commands_refused.fetch_add(1, Relaxed);
    }

    pub fn count_queue_full(&self) {
        self.datagrams_queue_full.fetch_add(1, Relaxed);
    }

    pub fn count_out(&self, bytes: usize) {
        self.datagrams_out.fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }

    pub fn count_send_error(&self) {
        self.send_errors.fetch_add(1, Relaxed);
    }

    pub fn publish_worker(&self, index: usize, stats: CoreStats) {
        *self.workers[index]
            .lock()
            .expect("metrics lock never poisoned") = stats;
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut core = CoreStats::default();
        for w in &self.workers {
            let s = *w.lock().expect("metrics lock never poisoned");
            core.datagrams_unroutable += s.datagrams_unroutable;
            core.datagrams_rejected += s.datagrams_rejected;
            core.frames_forwarded += s.frames_forwarded;
            core.packets_forwarded += s.packets_forwarded;
            core.conn_timeouts += s.conn_timeouts;
            core.packets_unannounced += s.packets_unannounced;
            core.packets_empty += s.packets_empty;
            core.packets_oversized += s.packets_oversized;
            core.rooms_failed += s.rooms_failed;
            core.packets_paused_layer += s.packets_paused_layer;
            core.layer_changes += s.layer_changes;
            core.estimates_restarted += s.estimates_restarted;
            core.links_overflowing += s.links_overflowing;
            core.encodings_paused += s.encodings_paused;
            core.encodings_resumed += s.encodings_resumed;
            core.screen_caps += s.screen_caps;
            core.camera_caps += s.camera_caps;
            core.caps_ignored += s.caps_ignored;
            core.frames_dropped_codec += s.frames_dropped_codec;
            core.frames_dropped_not_sending += s.frames_dropped_not_sending;
            core.frames_dropped_write_failed += s.frames_dropped_write_failed;
            core.frames_waiting_keyframe += s.frames_waiting_keyframe;
            core.layers_cut += s.layers_cut;
            core.cut_packets_dropped += s.cut_packets_dropped;
            core.frames_gated += s.frames_gated;
            core.keyframe_requests += s.keyframe_requests;
            core.conns_failed += s.conns_failed;
            core.renegotiations_failed += s.renegotiations_failed;
            core.publish_renegotiations_refused += s.publish_renegotiations_refused;
            core.ice_restarts += s.ice_restarts;
            core.ice_restarts_limited += s.ice_restarts_limited;
            core.resumes += s.resumes;
            core.conns_silent += s.conns_silent;
            core.rooms += s.rooms;
        }
        MetricsSnapshot {
            datagrams_in: self.datagrams_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            datagrams_unroutable: self.datagrams_unroutable.load(Relaxed),
            datagrams_queue_full: self.datagrams_queue_full.load(Relaxed),
            commands_refused: self.commands_refused.load(Relaxed),
            datagrams_out: self.datagrams_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            core,
        }
    }
}
