//! A media worker thread: the loop that drives one core [`Worker`] with real time, real
//! datagrams and signaling's commands, and carries out its output.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use super::metrics::Metrics;
use super::{Datagram, EventSink, MediaSocket, RouteMaps, WorkerMsg};
use crate::api::{Command, ParticipantId, RoomId};
use crate::worker::{Output, Worker};

/// The longest a worker sleeps with nothing to do; bounds how late it notices a stale clock.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Inputs handled before the worker looks at timeouts and flushes output again.
const BATCH: usize = 64;

pub(crate) struct WorkerThread {
    pub index: usize,
    pub core: Worker,
    pub commands: Receiver<WorkerMsg>,
    /// Clients' commands waiting in `commands` (the handle counts them in, we count them out).
    pub queued: Arc<std::sync::atomic::AtomicUsize>,
    pub datagrams: Receiver<Datagram>,
    pub sockets: Arc<[MediaSocket]>,
    pub routes: Arc<RouteMaps>,
    pub metrics: Arc<Metrics>,
    pub sinks: HashMap<(RoomId, ParticipantId), EventSink>,
    pub reports: Arc<super::Reports>,
    /// Send runs of datagrams to one destination as one UDP GSO send (off if the kernel
    /// refuses, or by configuration for measurements).
    pub gso: bool,
    /// Transmits of the current flush, sent together at its end.
    pub pending: Vec<str0m::net::Transmit>,
}

impl WorkerThread {
    pub fn run(mut self) {
        loop {
            let now = Instant::now();
            let wait = self.core.poll_timeout().map_or(MAX_SLEEP, |t| {
                t.saturating_duration_since(now).min(MAX_SLEEP)
            });
            let keep_going = select! {
                recv(self.commands) -> msg => self.handle_msg(msg.ok()),
                recv(self.datagrams) -> d => {
                    if let Ok(d) = d { self.handle_datagram(d) }
                    true
                },
                default(wait) => true,
            };
            if !keep_going {
                return;
            }
            if !self.drain_batch() {
                return;
            }
            self.core.handle_timeout(Instant::now());
            self.flush();
            self.metrics.publish_worker(self.index, self.core.stats());
        }
    }

    /// Handles what else is queued, up to a batch, so a busy worker flushes regularly.
    fn drain_batch(&mut self) -> bool {
        for _ in 0..BATCH {
            if let Ok(msg) = self.commands.try_recv() {
                if !self.handle_msg(Some(msg)) {
                    return false;
                }
                continue;
            }
            match self.datagrams.try_recv() {
                Ok(d) => self.handle_datagram(d),
                Err(_) => break,
            }
        }
        true
    }

    fn handle_msg(&mut self, msg: Option<WorkerMsg>) -> bool {
        let Some(WorkerMsg::Command {
            room,
            cmd,
            sink,
            counted,
        }) = msg
        else {
            return false;
        };
        if counted {
            self.queued
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        match (&cmd, sink) {
            (Command::Join { participant } | Command::Resume { participant, .. }, Some(sink)) => {
                self.sinks.insert((room.clone(), *participant), sink);
            }
            (Command::Leave { participant }, _) => {
                self.sinks.remove(&(room.clone(), *participant));
            }
            (Command::Close, _) => self.sinks.retain(|(r, _), _| *r != room),
            _ => {}
        }
        self.core.handle_command(Instant::now(), &room, cmd);
        self.flush();
        true
    }

    /// Hands a datagram to the core; what it forwards goes out at the next flush, after the
    /// batch (`run`), so each connection is polled once per batch.
    fn handle_datagram(&mut self, d: Datagram) {
        self.core
            .handle_datagram(d.received, d.source, d.destination, &d.data);
    }

    /// Carries out the core's output: events and routes in order, datagrams together at the
    /// end (grouped per socket and destination for GSO).
    fn flush(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(t) => self.pending.push(t),
                Output::Event {
                    room,
                    participant,
                    event,
                } => {
                    if let Some(sink) = self.sinks.get(&(room, participant)) {
                        sink(event);
                    }
                }
                Output::RouteUfrag(u) => {
                    self.routes.by_ufrag.insert(u, self.index);
                }
                Output::RouteAddr(a) => {
                    self.routes.by_addr.insert(a, self.index);
                }
                Output::UnrouteUfrag(u) => {
                    self.routes.by_ufrag.remove(&u);
                }
                Output::UnrouteAddr(a) => {
                    self.routes.by_addr.remove(&a);
                }
                Output::Report { room, report } => match report {
                    Some(r) => {
                        self.reports.insert(room, *r);
                    }
                    None => {
                        self.reports.remove(&room);
                    }
                },
            }
        }
        self.send_pending();
    }

    /// Sends what the flush collected, per local socket: the core emits a connection's
    /// datagrams together, so runs to one destination are already next to each other.
    fn send_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let metrics = &self.metrics;
        for s in self.sockets.iter() {
            let datagrams: Vec<(std::net::SocketAddr, &[u8])> = pending
                .iter()
                .filter(|t| t.source == s.advertised)
                .map(|t| (t.destination, &t.contents[..]))
                .collect();
            if datagrams.is_empty() {
                continue;
            }
            super::batch::send_all(
                &s.socket,
                &datagrams,
                &mut self.gso,
                |n| metrics.count_out(n),
                || metrics.count_send_error(),
            );
        }
        let unsent = pending
            .iter()
            .filter(|t| !self.sockets.iter().any(|s| s.advertised == t.source))
            .count();
        (0..unsent).for_each(|_| metrics.count_send_error());
        self.pending = pending;
        self.pending.clear();
    }
}
