//! The sans-IO core of one media worker: the rooms it owns, and the routing of datagrams to
//! their connections. The shell feeds it commands, datagrams and timeouts and drains
//! [`Worker::poll_output`]; it never touches a socket or a clock itself.
//!
//! Poll order for a shell: after any `handle_*` call, drain `poll_output` until `None`, then
//! sleep until `poll_timeout` (or the next input).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use str0m::Input;
use str0m::config::DtlsCert;
use str0m::net::{DatagramRecv, Protocol, Receive, Transmit};

use crate::api::{Command, Direction, ParticipantId, RoomId, SfuEvent};
use crate::conn::Conn;
use crate::room::Room;
use crate::stun;

/// What the core needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Addresses put into every SDP as host candidates: what browsers send media to.
    pub candidates: Vec<SocketAddr>,
    /// Audio and video m-lines a participant may publish (microphone, camera, screen).
    pub max_tracks_per_participant: usize,
}

/// The DTLS certificate every connection of one worker presents. Generating one per connection
/// costs milliseconds of CPU each (measured in `cargo bench -p aula-sfu`), which a join surge
/// cannot afford; browsers check the fingerprint that signaling carries, not the certificate's
/// identity, so sharing it is what SFUs do (Janus: one per process; mediasoup: one per worker).
fn generate_dtls_cert() -> DtlsCert {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .expect("the aws-lc-rs provider generates certificates")
}

/// Counters of the core, for /metrics. Plain integers: one worker owns them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreStats {
    /// Datagrams for no known connection (garbage, or a connection already gone).
    pub datagrams_unroutable: u64,
    /// Datagrams a connection refused (str0m's `accepts` or a parse error).
    pub datagrams_rejected: u64,
    /// Frames written to down tracks.
    pub frames_forwarded: u64,
    /// Video frames held back from a subscriber until the next keyframe.
    pub frames_waiting_keyframe: u64,
    /// Frames a closed gate kept from every subscriber (a muted microphone, a stopped
    /// camera); counted once per frame, not per subscriber.
    pub frames_gated: u64,
    /// PLIs sent to publishers.
    pub keyframe_requests: u64,
    /// Connections str0m gave up on.
    pub conns_failed: u64,
    /// Rooms currently open on this worker.
    pub rooms: u64,
}

/// Which connection of which participant of which room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub room: RoomId,
    pub participant: ParticipantId,
    pub direction: Direction,
}

/// Output of the core, in the order it must be acted on.
#[derive(Debug)]
pub enum Output {
    /// Send this datagram.
    Transmit(Transmit),
    /// Tell a participant (over signaling).
    Event {
        room: RoomId,
        participant: ParticipantId,
        event: SfuEvent,
    },
    /// Datagrams whose STUN USERNAME starts with this ufrag belong to this worker.
    RouteUfrag(String),
    /// Datagrams from this address belong to this worker.
    RouteAddr(SocketAddr),
    /// Forget a ufrag (its connection closed).
    UnrouteUfrag(String),
    /// Forget an address (its connection closed).
    UnrouteAddr(SocketAddr),
}

/// The worker-local routing tables; the shell mirrors them (via `Route*` outputs) in the maps
/// its socket readers use to pick a worker.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_ufrag: HashMap<String, ConnKey>,
    by_addr: HashMap<SocketAddr, ConnKey>,
}

impl Routes {
    pub fn add_ufrag(&mut self, ufrag: &str, key: ConnKey, out: &mut VecDeque<Output>) {
        self.by_ufrag.insert(ufrag.to_string(), key);
        out.push_back(Output::RouteUfrag(ufrag.to_string()));
    }

    pub fn add_addr(&mut self, addr: SocketAddr, key: ConnKey, out: &mut VecDeque<Output>) {
        self.by_addr.insert(addr, key);
        out.push_back(Output::RouteAddr(addr));
    }

    pub fn remove_conn(&mut self, conn: &Conn, out: &mut VecDeque<Output>) {
        if self.by_ufrag.remove(&conn.ufrag).is_some() {
            out.push_back(Output::UnrouteUfrag(conn.ufrag.clone()));
        }
        for addr in &conn.addrs {
            if self.by_addr.remove(addr).is_some() {
                out.push_back(Output::UnrouteAddr(*addr));
            }
        }
    }

    fn lookup(&self, source: SocketAddr, datagram: &[u8]) -> Option<&ConnKey> {
        // A known address wins; STUN from a new address (a new connection, or a client that
        // changed networks) is routed by the ufrag it names.
        if let Some(key) = self.by_addr.get(&source)
            && !stun::is_stun(datagram)
        {
            return Some(key);
        }
        match stun::local_ufrag(datagram) {
            Some(ufrag) => self.by_ufrag.get(ufrag),
            None => self.by_addr.get(&source),
        }
    }

    pub fn len(&self) -> (usize, usize) {
        (self.by_ufrag.len(), self.by_addr.len())
    }
}

/// Everything of a worker's that its rooms use while they handle an input.
pub(crate) struct Ctx {
    pub config: CoreConfig,
    pub dtls_cert: DtlsCert,
    pub rng: StdRng,
    pub out: VecDeque<Output>,
    pub stats: CoreStats,
    pub routes: Routes,
}

pub struct Worker {
    rooms: HashMap<RoomId, Room>,
    ctx: Ctx,
}

impl Worker {
    /// `seed` makes ICE credentials (and so a whole run) reproducible in tests; the shell
    /// seeds it from the operating system.
    pub fn new(config: CoreConfig, seed: u64) -> Worker {
        Worker {
            rooms: HashMap::new(),
            ctx: Ctx {
                config,
                dtls_cert: generate_dtls_cert(),
                rng: StdRng::seed_from_u64(seed),
                out: VecDeque::new(),
                stats: CoreStats::default(),
                routes: Routes::default(),
            },
        }
    }

    // ---- getters ----

    pub fn stats(&self) -> CoreStats {
        CoreStats {
            rooms: self.rooms.len() as u64,
            ..self.ctx.stats
        }
    }

    /// (ufrags, addresses) currently routed: both drop to zero when every room has closed.
    pub fn route_counts(&self) -> (usize, usize) {
        self.ctx.routes.len()
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    // ---- inputs ----

    pub fn handle_command(&mut self, now: Instant, room: &RoomId, cmd: Command) {
        let closing = matches!(cmd, Command::Close);
        let entry = self.rooms.entry(room.clone());
        let room_state = entry.or_insert_with(|| Room::new(room.clone()));
        room_state.handle_command(now, cmd, &mut self.ctx);
        if closing || room_state.is_empty() {
            // A room with nobody in it holds nothing worth keeping; signaling decides
            // when the room itself ends, the media side just frees its state.
            if let Some(mut r) = self.rooms.remove(room) {
                r.close(&mut self.ctx);
            }
        }
    }

    /// A datagram that arrived at `destination` (the local address as advertised in SDP).
    pub fn handle_datagram(
        &mut self,
        received: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(key) = self.ctx.routes.lookup(source, datagram).cloned() else {
            self.ctx.stats.datagrams_unroutable += 1;
            return;
        };
        let Ok(contents) = DatagramRecv::try_from(datagram) else {
            self.ctx.stats.datagrams_rejected += 1;
            return;
        };
        let Some(room) = self.rooms.get_mut(&key.room) else {
            self.ctx.stats.datagrams_unroutable += 1;
            return;
        };
        let input = Input::Receive(
            received,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        room.handle_receive(&key, input, &mut self.ctx);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for room in self.rooms.values_mut() {
            room.handle_timeout(now, &mut self.ctx);
        }
    }

    // ---- outputs ----

    pub fn poll_output(&mut self) -> Option<Output> {
        self.ctx.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rooms.values().filter_map(Room::poll_timeout).min()
    }
}
