//! Admission: joins come in at the rate and up to the load this server can carry; everyone
//! else waits in a queue, sees their place, and is let in without a click (docs/protocol.md,
//! `queued`; docs/operations.md, "When the server is full").
//!
//! - [`queue`]: the order (hosts, then resumes, then new joins) and the bounds.
//! - [`capacity`]: what the measurements allow.
//! - here: the shared state, the seats and places the sessions hold (dropping one gives it
//!   back), and the task that measures once a second, lets people in every 100 ms and tells
//!   the waiting where they stand every 2 s.

mod capacity;
mod queue;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aula_sfu::SfuHandle;
use tokio::sync::{oneshot, watch};

pub(crate) use capacity::Hold;
use capacity::Load;
pub(crate) use queue::Class;
use queue::{Queue, Refused, Ticket};

use crate::outbox::{Outbox, Outgoing};
use crate::protocol::ServerMsg;
use crate::registry::Registry;
use crate::room::{RateLimit, RoomMsg};

/// How often the waiting hear where they stand (the "at least every 2 s").
const TELL_EVERY: Duration = Duration::from_secs(2);
/// How often the queue is looked at for someone to let in.
const TICK: Duration = Duration::from_millis(100);
/// How often CPU and egress are measured.
const MEASURE_EVERY: Duration = Duration::from_secs(1);
/// Waits kept for the percentiles in /metrics.
const WAITS_KEPT: usize = 1000;
/// Egress the allocator keeps per subscriber even under CPU pressure: audio and a low layer.
const FLOOR_PER_PRESENT: u64 = 150_000;
/// What a page refused a place (the queue or its address is full) is told to wait before it
/// asks again; it adds jitter of its own.
pub(crate) const RETRY_AFTER_SECS: u64 = 10;

/// The settings admission works with (from `Config`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_participants: usize,
    pub join_rate: f64,
    pub queue_limit: usize,
    pub queue_per_address: usize,
}

/// What a join gets at the door.
pub(crate) enum Entry {
    /// In now.
    Seat(Seat),
    /// Waits: its place, where it stands, and the seat when it comes.
    Wait {
        place: Place,
        position: usize,
        seat: oneshot::Receiver<Seat>,
    },
    /// Cannot even wait (the queue or its address is full): ask again later.
    Busy(&'static str),
}

/// A participant admitted and present; dropping it frees the seat.
pub(crate) struct Seat {
    admission: Arc<Admission>,
}

impl Seat {
    /// Gives this seat to the page that waits in the queue with `key` for `room`, if one
    /// does (a member's resume that queued while its old socket was still open, whose seat
    /// this is); else gives it back.
    pub(crate) fn hand_to(self, key: &str, room: &str) -> Option<Seat> {
        let admission = self.admission.clone();
        let waiter = {
            let mut inner = admission.lock();
            match inner.queue.take_keyed(key, room) {
                Some(ticket) => inner.waiters.remove(&ticket),
                None => None,
            }
        };
        let Some(waiter) = waiter else {
            return Some(self);
        };
        let class = Class::Resume as usize;
        match waiter.seat.send(self) {
            Ok(()) => {
                admission.counters.admitted_from_queue[class].fetch_add(1, Relaxed);
                None
            }
            Err(seat) => Some(seat),
        }
    }
}

impl std::fmt::Debug for Seat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seat")
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut inner = self.admission.lock();
        inner.present = inner.present.saturating_sub(1);
    }
}

/// A place in the queue; dropping it (the socket closed, or `leave`) frees it.
pub(crate) struct Place {
    admission: Arc<Admission>,
    ticket: Ticket,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut inner = self.admission.lock();
        if inner.queue.remove(self.ticket) {
            self.admission.counters.left.fetch_add(1, Relaxed);
        }
        inner.waiters.remove(&self.ticket);
    }
}

struct Waiter {
    seat: oneshot::Sender<Seat>,
    out: Outbox,
}

struct Inner {
    queue: Queue,
    waiters: HashMap<Ticket, Waiter>,
    next_ticket: Ticket,
    present: usize,
    /// Join starts: `join_rate` a second, bursts of as many.
    rate: RateLimit,
    /// The latest measurements (present is live in `present`).
    load: Load,
    /// The egress budget the allocator was given for CPU pressure, if any.
    pressure: Option<u64>,
    /// Recent waits, for the percentiles.
    waits: VecDeque<Duration>,
    /// Waiting per room, as the rooms' hosts were last told.
    told_rooms: HashMap<String, usize>,
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Let in at once, per class.
    pub admitted_at_once: [AtomicU64; 3],
    /// Let in from the queue, per class.
    pub admitted_from_queue: [AtomicU64; 3],
    /// Had to wait, by what held them (`Hold`), or behind others already waiting.
    pub queued: [AtomicU64; 4],
    pub queued_behind: AtomicU64,
    /// Left the queue before their turn.
    pub left: AtomicU64,
    /// Could not even wait: the queue was full, or their address held too many places.
    pub refused_full: AtomicU64,
    pub refused_address: AtomicU64,
    /// A socket replaced by a newer one of the same page while waiting.
    pub replaced: AtomicU64,
}

pub(crate) struct Admission {
    inner: Mutex<Inner>,
    limits: Limits,
    pub(crate) counters: Counters,
}

/// What /metrics shows of admission.
struct Snapshot {
    pub present: usize,
    pub queued: usize,
    pub cpu: f64,
    pub pressure: Option<u64>,
    /// p50, p95 and p99 of the recent waits.
    pub wait_percentiles: Option<[Duration; 3]>,
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Arc<Admission> {
        Arc::new(Admission {
            inner: Mutex::new(Inner {
                queue: Queue::new(limits.queue_limit, limits.queue_per_address),
                waiters: HashMap::new(),
                next_ticket: 1,
                present: 0,
                rate: RateLimit::with(
                    tokio::time::Instant::now(),
                    limits.join_rate.max(1.0),
                    Duration::from_secs_f64(1.0 / limits.join_rate.max(0.01)),
                ),
                load: Load::default(),
                pressure: None,
                waits: VecDeque::new(),
                told_rooms: HashMap::new(),
            }),
            limits,
            counters: Counters::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the queue half-changed in a way that matters
        // more than stopping admissions would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A join or resume at the door. `key` is the page's session or resume token: a page
    /// that reconnects while it waits takes its place back.
    pub(crate) fn enter(
        self: &Arc<Self>,
        class: Class,
        key: Option<&str>,
        addr: IpAddr,
        room: &str,
        out: &Outbox,
    ) -> Entry {
        let now = Instant::now();
        let mut inner = self.lock();
        let load = Load {
            present: inner.present,
            ..inner.load
        };
        let held = capacity::hold(&load, self.limits.max_participants);
        if inner.queue.is_empty()
            && held.is_none()
            && inner.rate.allow(tokio::time::Instant::from_std(now))
        {
            inner.present += 1;
            self.counters.admitted_at_once[class as usize].fetch_add(1, Relaxed);
            return Entry::Seat(Seat {
                admission: self.clone(),
            });
        }
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        match inner.queue.push(ticket, class, key, addr, room, now) {
            Ok((position, stale)) => {
                match held {
                    Some(h) => self.counters.queued[h as usize].fetch_add(1, Relaxed),
                    None if inner.queue.len() > 1 => {
                        self.counters.queued_behind.fetch_add(1, Relaxed)
                    }
                    None => self.counters.queued[Hold::Rate as usize].fetch_add(1, Relaxed),
                };
                if let Some(old) = stale.and_then(|t| inner.waiters.remove(&t)) {
                    self.counters.replaced.fetch_add(1, Relaxed);
                    let _ = old
                        .out
                        .send(Outgoing::Close(1000, "replaced by a newer socket"));
                }
                let (tx, rx) = oneshot::channel();
                inner.waiters.insert(
                    ticket,
                    Waiter {
                        seat: tx,
                        out: out.clone(),
                    },
                );
                Entry::Wait {
                    place: Place {
                        admission: self.clone(),
                        ticket,
                    },
                    position,
                    seat: rx,
                }
            }
            Err(why) => {
                match why {
                    Refused::Full => &self.counters.refused_full,
                    Refused::Address => &self.counters.refused_address,
                }
                .fetch_add(1, Relaxed);
                Entry::Busy(why.as_str())
            }
        }
    }

    /// The `queued` message for the one at `position`.
    fn queued_msg(inner: &mut Inner, position: usize, now: Instant) -> ServerMsg {
        let wait = inner.queue.estimate(position, now);
        ServerMsg::Queued {
            position,
            waiting: inner.queue.len(),
            wait_secs: wait.map(|w| w.as_secs().max(1)),
        }
    }

    /// What a waiting page is told first.
    pub(crate) fn first_news(&self, position: usize) -> ServerMsg {
        let mut inner = self.lock();
        Self::queued_msg(&mut inner, position, Instant::now())
    }

    /// Lets in whoever may come in now.
    fn admit(self: &Arc<Self>, now: Instant) {
        let mut inner = self.lock();
        loop {
            if inner.queue.is_empty() {
                return;
            }
            let load = Load {
                present: inner.present,
                ..inner.load
            };
            if capacity::hold(&load, self.limits.max_participants).is_some()
                || !inner.rate.allow(tokio::time::Instant::from_std(now))
            {
                return;
            }
            let Some((ticket, class, waited)) = inner.queue.pop(now) else {
                return;
            };
            let Some(waiter) = inner.waiters.remove(&ticket) else {
                continue;
            };
            inner.present += 1;
            if inner.waits.len() == WAITS_KEPT {
                inner.waits.pop_front();
            }
            inner.waits.push_back(waited);
            let seat = Seat {
                admission: self.clone(),
            };
            // A page gone meanwhile drops the seat here, which frees it again. Not under the
            // lock: Seat's drop takes it.
            drop(inner);
            if waiter.seat.send(seat).is_ok() {
                self.counters.admitted_from_queue[class as usize].fetch_add(1, Relaxed);
            }
            inner = self.lock();
        }
    }

    /// Tells every waiting page where it stands, and every room's hosts how many wait.
    fn tell(&self, now: Instant, registry: &Registry) {
        let mut inner = self.lock();
        let positions: Vec<(Ticket, usize)> = inner.queue.positions().collect();
        for (ticket, position) in positions {
            let msg = Self::queued_msg(&mut inner, position, now);
            if let Some(w) = inner.waiters.get(&ticket) {
                let _ = w.out.send(Outgoing::Msg(msg));
            }
        }
        let rooms: HashMap<String, usize> = inner
            .queue
            .rooms()
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect();
        let mut changed: Vec<(String, usize)> = rooms
            .iter()
            .filter(|(r, n)| inner.told_rooms.get(*r) != Some(n))
            .map(|(r, n)| (r.clone(), *n))
            .collect();
        changed.extend(
            inner
                .told_rooms
                .keys()
                .filter(|r| !rooms.contains_key(*r))
                .map(|r| (r.clone(), 0)),
        );
        inner.told_rooms = rooms;
        drop(inner);
        for (room, waiting) in changed {
            if let Some(entry) = registry.get(&room) {
                let _ = entry.inbox.try_send(RoomMsg::ServerQueue { waiting });
            }
        }
    }

    /// How many wait to enter `room` (for a host who just came in).
    pub(crate) fn waiting_for(&self, room: &str) -> usize {
        self.lock().queue.waiting_for(room)
    }

    fn measure(&self, load: Load, pressure: Option<u64>) {
        let mut inner = self.lock();
        inner.load = load;
        inner.pressure = pressure;
    }

    /// The lines of /metrics about admission (docs/operations.md, "Admission").
    pub(crate) fn metrics_lines(&self) -> String {
        let s = self.snapshot();
        let c = &self.counters;
        let mut out = String::new();
        let mut line = |name: &str, value: String| {
            out.push_str(name);
            out.push(' ');
            out.push_str(&value);
            out.push('\n');
        };
        line("aula_participants_present", s.present.to_string());
        line("aula_admission_queue_length", s.queued.to_string());
        line("aula_admission_cpu_ratio", format!("{:.3}", s.cpu));
        line(
            "aula_admission_pressure_limit_bits_per_second",
            s.pressure.unwrap_or(0).to_string(),
        );
        for class in Class::ALL {
            let i = class as usize;
            for (how, n) in [
                ("at_once", &c.admitted_at_once[i]),
                ("queued", &c.admitted_from_queue[i]),
            ] {
                let name = format!(
                    "aula_admitted_total{{class=\"{}\",how=\"{how}\"}}",
                    class.as_str()
                );
                line(&name, n.load(Relaxed).to_string());
            }
        }
        for hold in Hold::ALL {
            let name = format!("aula_admission_queued_total{{cause=\"{}\"}}", hold.as_str());
            line(&name, c.queued[hold as usize].load(Relaxed).to_string());
        }
        line(
            "aula_admission_queued_total{cause=\"behind\"}",
            c.queued_behind.load(Relaxed).to_string(),
        );
        line(
            "aula_admission_left_queue_total",
            c.left.load(Relaxed).to_string(),
        );
        line(
            "aula_admission_replaced_total",
            c.replaced.load(Relaxed).to_string(),
        );
        for (cause, n) in [
            ("queue_full", &c.refused_full),
            ("address", &c.refused_address),
        ] {
            let name = format!("aula_admission_refused_total{{cause=\"{cause}\"}}");
            line(&name, n.load(Relaxed).to_string());
        }
        if let Some(p) = s.wait_percentiles {
            for (q, d) in ["0.5", "0.95", "0.99"].iter().zip(p) {
                let name = format!("aula_admission_wait_seconds{{quantile=\"{q}\"}}");
                line(&name, format!("{:.3}", d.as_secs_f64()));
            }
        }
        out
    }

    fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let mut waits: Vec<Duration> = inner.waits.iter().copied().collect();
        waits.sort();
        let pick = |q: f64| waits[((waits.len() - 1) as f64 * q).round() as usize];
        Snapshot {
            present: inner.present,
            queued: inner.queue.len(),
            cpu: inner.load.cpu,
            pressure: inner.pressure,
            wait_percentiles: (!waits.is_empty()).then(|| [pick(0.5), pick(0.95), pick(0.99)]),
        }
    }

    /// Measures, lets people in and keeps the waiting informed, until the server stops.
    pub(crate) async fn run(
        self: Arc<Self>,
        sfu: SfuHandle,
        registry: Arc<Registry>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cpu = CpuMeter::new();
        let mut bytes_out = sfu.metrics().bytes_out;
        let mut measured = Instant::now();
        let mut told = Instant::now();
        let mut pressure = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let now = Instant::now();
            if now - measured >= MEASURE_EVERY {
                let secs = (now - measured).as_secs_f64();
                measured = now;
                let out = sfu.metrics().bytes_out;
                let sending = ((out.saturating_sub(bytes_out)) as f64 * 8.0 / secs) as u64;
                bytes_out = out;
                let used = cpu.sample();
                let b = sfu.bandwidth();
                let present = self.lock().present as u64;
                pressure =
                    capacity::pressure(used, pressure, sending, present.max(1) * FLOOR_PER_PRESENT);
                sfu.set_pressure_limit(pressure);
                let load = Load {
                    present: 0,
                    cpu: used,
                    egress_used: b.egress_limit.map(|l| b.allocated as f64 / l.max(1) as f64),
                    videos_paused: b.subscribers > 0 && b.paused >= b.subscribers,
                };
                self.measure(load, pressure);
            }
            self.admit(now);
            if now - told >= TELL_EVERY {
                told = now;
                self.tell(now, &registry);
            }
        }
    }
}

/// This process's CPU time as a share of all cores, from /proc/self/stat (Linux; elsewhere
/// it reads 0 and admission rests on the ceiling and the join rate).
struct CpuMeter {
    cores: f64,
    last: Option<(Instant, f64)>,
}

/// Linux's USER_HZ on every architecture Debian ships.
const CLOCK_TICKS: f64 = 100.0;

impl CpuMeter {
    fn new() -> CpuMeter {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        CpuMeter { cores, last: None }
    }

    fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / CLOCK_TICKS)
    }

    /// CPU share since the last sample.
    fn sample(&mut self) -> f64 {
        let now = Instant::now();
        let Some(secs) = Self::cpu_seconds() else {
            return 0.0;
        };
        let share = match self.last {
            Some((at, before)) => {
                let wall = (now - at).as_secs_f64().max(1e-3);
                ((secs - before) / wall / self.cores).clamp(0.0, 1.0)
            }
            None => 0.0,
        };
        self.last = Some((now, secs));
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_cpu_is_read() {
        let mut meter = CpuMeter::new();
        assert!(CpuMeter::cpu_seconds().is_some());
        meter.sample();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let share = meter.sample();
        // The clock ticks every 10 ms; 300 ms of spinning shows, however busy the machine.
        assert!(share > 0.0, "{share}");
    }
}
