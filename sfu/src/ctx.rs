//! What a worker's rooms share while they handle an input: configuration, the RNG, the output
//! queue, the counters and the routing tables. Its own module, so that rooms and connections
//! depend on it and never on the worker that owns them.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rand::rngs::StdRng;
use str0m::config::DtlsCert;
use str0m::net::Transmit;

use crate::api::{Direction, ParticipantId, RoomId, RoomReport, SfuEvent};
use crate::budget::EgressBudget;
use crate::stun;

/// What the core needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Addresses put into every SDP as host candidates: what browsers send media to.
    pub candidates: Vec<SocketAddr>,
    /// Audio and video m-lines a participant may publish (microphone, camera, screen).
    pub max_tracks_per_participant: usize,
    /// The server's egress budget, shared by the workers, and this worker's index in it;
    /// `None`: no limit (`egress_limit_mbps`).
    pub egress: Option<(Arc<EgressBudget>, usize)>,
    /// Egress limit of any one room, bit/s; `None`: none (`room_egress_limit_mbps`).
    pub room_egress_limit: Option<u64>,
    /// Decide layers by estimates and budgets, and pause unwanted encodings at the source.
    /// Off (only to measure what adaptation saves), layers follow the tile sizes alone.
    pub adaptation: bool,
}

/// Counters of the core, for /metrics. Plain integers: one worker owns them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreStats {
    /// Datagrams for no known connection (garbage, or a connection already gone).
    pub datagrams_unroutable: u64,
    /// Datagrams a connection refused (str0m's `accepts` or a parse error).
    pub datagrams_rejected: u64,
    /// RTP packets written to down slots.
    pub packets_forwarded: u64,
    /// RTP packets from a publisher on a layer (rid) its offer did not announce: dropped.
    pub packets_unannounced: u64,
    /// RTP packets from a publisher with nothing in them (padding only): not forwarded.
    pub packets_empty: u64,
    /// RTP packets from a publisher with a payload over `forward::MAX_PAYLOAD` bytes (no
    /// browser sends one): dropped.
    pub packets_oversized: u64,
    /// Rooms whose media state was dropped after a panic in their code (`Worker::fail_room`);
    /// their participants connected again.
    pub rooms_failed: u64,
    /// Packets of a layer the publisher was told to switch off, still arriving (a page that
    /// ignores `encodings`): forwarded to nobody who does not take that layer anyway.
    pub packets_paused_layer: u64,
    /// Times the allocator changed the layer a subscriber gets of a video (pausing included).
    pub layer_changes: u64,
    /// Times a subscriber's estimate, fallen while its page showed no video, was started
    /// again from what its link carried before (crate::padding::Carried).
    pub estimates_restarted: u64,
    /// Times a subscriber's link was found overflowing (a fifth of its packets lost behind a
    /// standing queue) and decided on what it delivered (crate::room::adapt,
    /// `watch_overflow`).
    pub links_overflowing: u64,
    /// Times a publisher was told to switch an encoding off, and on again.
    pub encodings_paused: u64,
    pub encodings_resumed: u64,
    /// Times a publisher was told a new cap for its screen share, or that it is lifted.
    pub screen_caps: u64,
    /// Times a publisher was told a new cap for its camera's lowest layer, or that it is lifted.
    pub camera_caps: u64,
    /// Times a publisher was found sending a capped encoding at well over its cap.
    pub caps_ignored: u64,
    /// Frames written to down slots: audio packets and the last packet of each video frame.
    pub frames_forwarded: u64,
    /// Timeouts given to connections: each is a pass of str0m over all the connection's
    /// streams, about one per packet sent with congestion control on (its pacer's).
    pub conn_timeouts: u64,
    /// Frames that could not be forwarded to a subscriber, by cause (counted per subscriber).
    pub frames_dropped_codec: u64,
    pub frames_dropped_not_sending: u64,
    pub frames_dropped_write_failed: u64,
    /// Video frames held back from a subscriber until the next keyframe.
    pub frames_waiting_keyframe: u64,
    /// Layers stopped at a frame's end, not at the lower layer's keyframe, because the
    /// subscriber's link no longer carried them and was losing packets.
    pub layers_cut: u64,
    /// Packets still waiting in str0m's pacer queue of a layer lowered or paused for a link
    /// losing packets, dropped when it stopped (at its cut, its switch or its pause).
    pub cut_packets_dropped: u64,
    /// Frames a closed gate kept from every subscriber (a muted microphone, a stopped
    /// camera); counted once per frame, not per subscriber.
    pub frames_gated: u64,
    /// PLIs sent to publishers.
    pub keyframe_requests: u64,
    /// Connections str0m gave up on.
    pub conns_failed: u64,
    /// Subscribe renegotiations that failed (an answer the SFU could not apply, or an offer the
    /// client could not): each rebuilt the subscribe connection.
    pub renegotiations_failed: u64,
    /// Publish offers on an existing connection that were refused (m-lines dropped or
    /// reordered, media changed in an ICE restart, or str0m refused them).
    pub publish_renegotiations_refused: u64,
    /// ICE restarts carried out (publish and subscribe).
    pub ice_restarts: u64,
    /// ICE restarts refused by the rate limit.
    pub ice_restarts_limited: u64,
    /// Sessions whose signaling came back (`Command::Resume`).
    pub resumes: u64,
    /// Times a participant's quality changed to lost because a connection went silent.
    pub conns_silent: u64,
    /// Rooms currently open on this worker.
    pub rooms: u64,
}

impl CoreStats {
    pub fn count_dropped(&mut self, cause: crate::api::DropCause) {
        use crate::api::DropCause::*;
        match cause {
            Codec => self.frames_dropped_codec += 1,
            NotSending => self.frames_dropped_not_sending += 1,
            WriteFailed => self.frames_dropped_write_failed += 1,
        }
    }
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
    /// A room's bandwidth picture after an allocation; `None`: the room is gone here.
    Report {
        room: RoomId,
        report: Option<Box<RoomReport>>,
    },
    /// Forget a ufrag (its connection closed).
    UnrouteUfrag(String),
    /// Forget an address (its connection closed).
    UnrouteAddr(SocketAddr),
}

/// The worker-local routing tables; the shell mirrors them (via `Route*` outputs) in the maps
/// its socket readers use to pick a worker.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_ufrag: FxHashMap<String, ConnKey>,
    by_addr: FxHashMap<SocketAddr, ConnKey>,
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

    /// Forgets a ufrag if it still routes to `key` (a newer connection may have taken it).
    pub fn remove_ufrag(&mut self, ufrag: &str, key: &ConnKey, out: &mut VecDeque<Output>) {
        if self.by_ufrag.get(ufrag) == Some(key) {
            self.by_ufrag.remove(ufrag);
            out.push_back(Output::UnrouteUfrag(ufrag.to_string()));
        }
    }

    /// Forgets an address if it still routes to `key`.
    pub fn remove_addr(&mut self, addr: SocketAddr, key: &ConnKey, out: &mut VecDeque<Output>) {
        if self.by_addr.get(&addr) == Some(key) {
            self.by_addr.remove(&addr);
            out.push_back(Output::UnrouteAddr(addr));
        }
    }

    /// Forgets every route of `room` (a room whose state is gone without its connections
    /// closing one by one: `Worker::fail_room`).
    pub fn remove_room(&mut self, room: &RoomId, out: &mut VecDeque<Output>) {
        self.by_ufrag.retain(|ufrag, key| {
            let keep = key.room != *room;
            if !keep {
                out.push_back(Output::UnrouteUfrag(ufrag.clone()));
            }
            keep
        });
        self.by_addr.retain(|addr, key| {
            let keep = key.room != *room;
            if !keep {
                out.push_back(Output::UnrouteAddr(*addr));
            }
            keep
        });
    }

    pub fn lookup(&self, source: SocketAddr, datagram: &[u8]) -> Option<&ConnKey> {
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
    /// What each room of this worker would send if nothing held it back (bit/s), from its
    /// latest allocation: the rooms share the worker's part of the egress budget by it.
    pub room_demands: FxHashMap<RoomId, u64>,
}
