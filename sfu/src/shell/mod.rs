//! The I/O shell around the core: sockets, threads, channels.
//!
//! ```text
//!  UDP :10000 (one socket per local address, all on one port)
//!     | reader thread per socket: route by source address, else by STUN ufrag
//!     v
//!  worker thread 0 .. N-1 (one per core): owns its rooms, drives a core::Worker,
//!     |                                    sends its transmits on the sockets directly
//!     v
//!  EventSink per participant (signaling's WebSocket task)
//! ```
//!
//! A room lives on exactly one worker, chosen by hashing its id, so everything a room does
//! happens on one thread with no locks. The only shared state is the routing maps the reader
//! threads consult (DashMap) and the counters.

mod batch;
mod metrics;
mod reader;
mod run;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel as channel;
use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use crate::api::{Command, ParticipantId, RoomId, RoomReport, SfuEvent};
use crate::budget::EgressBudget;
use crate::worker::CoreConfig;

use metrics::Metrics;
pub use metrics::{BandwidthSnapshot, MetricsSnapshot};

/// Where the SFU gets its events to: called on the worker thread, so it must not block
/// (signaling passes a closure that pushes into an unbounded channel).
pub type EventSink = Box<dyn Fn(SfuEvent) + Send>;

/// Settings of the media plane (see docs/operations.md for the user-facing names).
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The one UDP port for all media. 0 picks a free port (tests).
    pub port: u16,
    /// Local addresses to listen on; empty means every IPv4 address of the machine.
    pub listen_ips: Vec<IpAddr>,
    /// Advertised instead of each non-loopback listen address, for a server behind 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// Media worker threads; 0 means one per available core.
    pub workers: usize,
    /// Datagrams waiting per worker before new ones are dropped (and counted).
    pub queue_len: usize,
    pub max_tracks_per_participant: usize,
    /// Send runs of datagrams to one destination as one UDP GSO send.
    pub gso: bool,
    /// Receive datagrams in batches (`recvmmsg`).
    pub recv_batch: bool,
    /// The server's egress budget in bit/s (`None`: unlimited), shared by the rooms by need.
    pub egress_limit: Option<u64>,
    /// Egress limit of any one room, bit/s (`None`: none).
    pub room_egress_limit: Option<u64>,
    /// Bandwidth adaptation (estimates, budgets, pause at the source); off only to measure.
    pub adaptation: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind UDP {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("no address to listen on for media")]
    NoAddress,
    #[error("cannot start a thread: {0}")]
    Thread(io::Error),
}

/// Why a command did not reach the media plane.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("the media server is shutting down")]
    Gone,
    /// The worker has [`CLIENT_COMMANDS_QUEUED`] commands from clients waiting already.
    #[error("the media server is too busy for this now; try again")]
    Busy,
}

/// Commands from clients' messages (offers, answers, candidates, views) waiting for one
/// worker, at most. A worker takes one in microseconds (an offer in about a millisecond), so
/// a queue this long means it is far behind; beyond it such a command is refused rather than
/// queued (`aula_sfu_commands_refused_total`), so no client, however fast it sends, grows the
/// server's memory (4096 offers of 10 KB are 40 MB). A class's joins stay far below: 30 people
/// each sending an offer, a view and a dozen candidates are about 400. Commands of a session's
/// life (join, leave, close…) are always queued, so the SFU never keeps what signaling let go;
/// the admission limits bound their number. One queue for both keeps their order.
pub const CLIENT_COMMANDS_QUEUED: usize = 4096;

/// The host candidates every SDP offers: each socket's advertised address, and behind NAT
/// (`public_ip`) its own address too. A browser inside the school reaches the server's own
/// address even when the router cannot hairpin the public one; one at home tries the private
/// address, fails, and takes the public one. The core is ice-lite (it only answers checks)
/// and answers every check as the advertised address; the socket is the same either way, so
/// the answer leaves from the address the browser checked.
fn candidates(sockets: &[MediaSocket]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for s in sockets {
        out.push(s.advertised);
        if let Ok(local) = s.socket.local_addr()
            && local != s.advertised
            && !local.ip().is_unspecified()
        {
            out.push(local);
        }
    }
    out
}

/// A local socket and the address str0m knows it by (differs behind NAT).
pub(crate) struct MediaSocket {
    pub socket: UdpSocket,
    pub advertised: SocketAddr,
}

pub(crate) enum WorkerMsg {
    Command {
        room: RoomId,
        cmd: Command,
        sink: Option<EventSink>,
        /// Counted in the worker's `queued` (a client's command): the worker counts it out.
        counted: bool,
    },
    Shutdown,
}

pub(crate) struct Datagram {
    pub received: std::time::Instant,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: Vec<u8>,
}

/// Routing maps the reader threads consult: which worker owns a ufrag or a remote address.
#[derive(Default)]
pub(crate) struct RouteMaps {
    pub by_ufrag: DashMap<String, usize, FxBuildHasher>,
    pub by_addr: DashMap<SocketAddr, usize, FxBuildHasher>,
}

/// Each room's latest bandwidth picture, written by its worker after every allocation.
pub(crate) type Reports = DashMap<RoomId, RoomReport, FxBuildHasher>;

/// The cloneable front of the SFU that signaling holds.
#[derive(Clone)]
pub struct SfuHandle {
    commands: Arc<[channel::Sender<WorkerMsg>]>,
    /// Per worker: clients' commands waiting in `commands` (bounded by
    /// [`CLIENT_COMMANDS_QUEUED`]).
    queued: Arc<[Arc<AtomicUsize>]>,
    metrics: Arc<Metrics>,
    addrs: Arc<[SocketAddr]>,
    reports: Arc<Reports>,
    budget: Arc<EgressBudget>,
}

impl SfuHandle {
    /// Adds a participant to a room (creating the room's media state on its worker).
    pub fn join(&self, room: &RoomId, p: ParticipantId, sink: EventSink) -> Result<(), SendError> {
        let cmd = Command::Join { participant: p };
        self.send_msg(room, cmd, Some(sink))
    }

    /// A participant's signaling came back on a new socket: events go to `sink` from now on
    /// (see [`Command::Resume`]).
    pub fn resume(
        &self,
        room: &RoomId,
        p: ParticipantId,
        fresh: bool,
        sink: EventSink,
    ) -> Result<(), SendError> {
        let cmd = Command::Resume {
            participant: p,
            fresh,
        };
        self.send_msg(room, cmd, Some(sink))
    }

    pub fn send(&self, room: &RoomId, cmd: Command) -> Result<(), SendError> {
        self.send_msg(room, cmd, None)
    }

    /// Advertised media addresses (what goes into SDP).
    pub fn media_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// A room's bandwidth picture as of its latest allocation (half a second old at most).
    pub fn report(&self, room: &RoomId) -> Option<RoomReport> {
        self.reports.get(room).map(|r| r.clone())
    }

    /// Lowers the egress budget while the server's CPU is tight (`None` lifts it): the
    /// allocator then lowers the least important videos first (docs/architecture.md,
    /// "Admission").
    pub fn set_pressure_limit(&self, limit: Option<u64>) {
        self.budget.set_pressure(limit);
    }

    /// Sums over every room's latest picture, for `/metrics`.
    pub fn bandwidth(&self) -> BandwidthSnapshot {
        let mut b = BandwidthSnapshot {
            egress_limit: self.budget.configured(),
            pressure_limit: self
                .budget
                .limit()
                .filter(|l| Some(*l) != self.budget.configured()),
            ..BandwidthSnapshot::default()
        };
        for r in self.reports.iter() {
            for s in &r.subscribers {
                b.subscribers += 1;
                b.allocated += s.allocated;
                b.wanted += s.wanted;
                b.limited += u64::from(s.limited);
                b.audio_only += u64::from(s.audio_only);
                if let Some(e) = s.estimate {
                    b.estimated += 1;
                    b.estimate_sum += e;
                }
                for v in &s.videos {
                    b.paused += u64::from(v.paused);
                    if let Some(layer) = v.layer {
                        b.layers[usize::from(layer.index.min(2))] += 1;
                    }
                }
            }
        }
        b
    }

    fn send_msg(
        &self,
        room: &RoomId,
        cmd: Command,
        sink: Option<EventSink>,
    ) -> Result<(), SendError> {
        let worker = worker_for(room, self.commands.len());
        let counted = cmd.from_client();
        if counted && self.queued[worker].fetch_add(1, Ordering::Relaxed) >= CLIENT_COMMANDS_QUEUED
        {
            self.queued[worker].fetch_sub(1, Ordering::Relaxed);
            self.metrics.count_command_refused();
            return Err(SendError::Busy);
        }
        let msg = WorkerMsg::Command {
            room: room.clone(),
            cmd,
            sink,
            counted,
        };
        self.commands[worker].send(msg).map_err(|_| {
            if counted {
                self.queued[worker].fetch_sub(1, Ordering::Relaxed);
            }
            SendError::Gone
        })
    }
}

/// The running SFU: its threads and the handle to talk to it.
pub struct Sfu {
    handle: SfuHandle,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Sfu {
    /// Binds the media sockets and starts the reader and worker threads.
    pub fn start(config: &SfuConfig) -> Result<Sfu, StartError> {
        let sockets = bind_sockets(config)?;
        let addrs: Arc<[SocketAddr]> = sockets.iter().map(|s| s.advertised).collect();
        let candidates = candidates(&sockets);
        let sockets: Arc<[MediaSocket]> = sockets.into();
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let metrics = Arc::new(Metrics::new(workers));
        let routes = Arc::new(RouteMaps::default());
        let stop = Arc::new(AtomicBool::new(false));
        // Always there: signaling may set a pressure limit on a server without a configured one.
        let budget = Arc::new(EgressBudget::new(config.egress_limit, workers));
        let reports = Arc::new(Reports::default());
        let core_config = |index| CoreConfig {
            candidates: candidates.clone(),
            max_tracks_per_participant: config.max_tracks_per_participant,
            egress: Some((budget.clone(), index)),
            room_egress_limit: config.room_egress_limit,
            adaptation: config.adaptation,
        };
        let mut threads = Vec::new();
        let mut commands = Vec::new();
        let queued: Arc<[Arc<AtomicUsize>]> = (0..workers).map(|_| Arc::default()).collect();
        let mut datagram_txs = Vec::new();
        for index in 0..workers {
            let (cmd_tx, cmd_rx) = channel::unbounded();
            let (dgram_tx, dgram_rx) = channel::bounded::<Datagram>(config.queue_len);
            commands.push(cmd_tx);
            datagram_txs.push(dgram_tx);
            let worker = run::WorkerThread {
                index,
                core: crate::worker::Worker::new(core_config(index), rand::random()),
                reports: reports.clone(),
                commands: cmd_rx,
                queued: queued[index].clone(),
                datagrams: dgram_rx,
                sockets: sockets.clone(),
                routes: routes.clone(),
                metrics: metrics.clone(),
                sinks: Default::default(),
                gso: config.gso,
                pending: Vec::new(),
            };
            threads.push(spawn(format!("aula-media-{index}"), move || worker.run())?);
        }
        let datagram_txs: Arc<[_]> = datagram_txs.into();
        for index in 0..sockets.len() {
            let reader = reader::Reader {
                sockets: sockets.clone(),
                index,
                workers: datagram_txs.clone(),
                routes: routes.clone(),
                metrics: metrics.clone(),
                stop: stop.clone(),
                batch: config.recv_batch,
            };
            threads.push(spawn(format!("aula-udp-{index}"), move || reader.run())?);
        }
        let handle = SfuHandle {
            commands: commands.into(),
            queued,
            metrics,
            addrs,
            reports,
            budget,
        };
        Ok(Sfu {
            handle,
            stop,
            threads,
        })
    }

    pub fn handle(&self) -> SfuHandle {
        self.handle.clone()
    }

    /// Stops every thread and waits for them; connections are dropped without goodbye.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::Relaxed);
        for tx in self.handle.commands.iter() {
            let _ = tx.send(WorkerMsg::Shutdown);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StartError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(StartError::Thread)
}

fn worker_for(room: &RoomId, workers: usize) -> usize {
    let mut h = DefaultHasher::new();
    room.hash(&mut h);
    (h.finish() % workers as u64) as usize
}

/// One socket per listen address, all on the same port (the first one picks it if 0).
fn bind_sockets(config: &SfuConfig) -> Result<Vec<MediaSocket>, StartError> {
    let ips = if config.listen_ips.is_empty() {
        local_ipv4_addresses()
    } else {
        config.listen_ips.clone()
    };
    if ips.is_empty() {
        return Err(StartError::NoAddress);
    }
    let mut port = config.port;
    let mut sockets = Vec::new();
    for ip in ips {
        let addr = SocketAddr::new(ip, port);
        let socket = bind_media_socket(addr).map_err(|source| StartError::Bind { addr, source })?;
        let local = socket
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        port = local.port();
        // Readers wake up now and then to notice shutdown.
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .map_err(|source| StartError::Bind { addr, source })?;
        let advertised = match config.public_ip {
            Some(public) if !ip.is_loopback() => SocketAddr::new(public, port),
            _ => local,
        };
        sockets.push(MediaSocket { socket, advertised });
    }
    Ok(sockets)
}

/// Kernel buffer per direction we ask for. Linux caps it at net.core.{r,w}mem_max (4 MiB on
/// Debian's defaults); the default of about 200 kB holds only a few frames to a big class, and a
/// full send buffer makes `send_to` block the worker.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

fn bind_media_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer than asked for still works, only with more drops.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn local_ipv4_addresses() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .map(|i| i.ip())
                .filter(IpAddr::is_ipv4)
                .collect()
        })
        .unwrap_or_default();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle to one worker that never takes anything from its queue: a worker far behind.
    fn stalled() -> (SfuHandle, channel::Receiver<WorkerMsg>) {
        let (tx, rx) = channel::unbounded();
        let handle = SfuHandle {
            commands: vec![tx].into(),
            queued: vec![Arc::default()].into(),
            metrics: Arc::new(Metrics::new(1)),
            addrs: Vec::new().into(),
            reports: Arc::default(),
            budget: Arc::new(EgressBudget::new(None, 1)),
        };
        (handle, rx)
    }

    fn candidate() -> Command {
        Command::RemoteCandidate {
            participant: ParticipantId(1),
            direction: crate::api::Direction::Publish,
            candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host".into(),
        }
    }

    #[test]
    fn clients_commands_wait_in_a_bounded_queue_and_a_sessions_life_always_gets_through() {
        let (handle, rx) = stalled();
        let room = RoomId::from("r1");
        for _ in 0..CLIENT_COMMANDS_QUEUED {
            assert_eq!(handle.send(&room, candidate()), Ok(()));
        }
        assert_eq!(handle.send(&room, candidate()), Err(SendError::Busy));
        assert_eq!(handle.metrics().commands_refused, 1);
        // Leaving is never refused: the SFU must not keep what signaling let go.
        let leave = Command::Leave {
            participant: ParticipantId(1),
        };
        assert_eq!(handle.send(&room, leave), Ok(()));
        assert_eq!(rx.len(), CLIENT_COMMANDS_QUEUED + 1);

        // The worker takes one (and counts it out): there is room for one more.
        let Ok(WorkerMsg::Command { counted: true, .. }) = rx.recv() else {
            panic!("a counted client command first");
        };
        handle.queued[0].fetch_sub(1, Ordering::Relaxed);
        assert_eq!(handle.send(&room, candidate()), Ok(()));
        assert_eq!(handle.send(&room, candidate()), Err(SendError::Busy));
        drop(rx);
        let leave = Command::Leave {
            participant: ParticipantId(1),
        };
        assert_eq!(handle.send(&room, leave), Err(SendError::Gone));
    }
}
