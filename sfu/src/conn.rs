//! One str0m `Rtc` with what the core keeps beside it: its ICE ufrags (how the shell routes
//! datagrams to it), the remote addresses it has accepted, when it last heard anything, and its
//! next timeout.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use str0m::bwe::Bitrate;
use str0m::ice::IceCreds;
use str0m::{Candidate, Input, Rtc};

use crate::api::Direction;
use crate::ctx::{ConnKey, Ctx};

/// Remote addresses a connection keeps routed. A browser uses one or two at a time; each
/// network change or ICE restart adds one. Bounded, so that a client hopping addresses (or a
/// forged STUN flood with valid credentials) cannot grow the routing table.
const MAX_ADDRS: usize = 8;

/// Local ICE ufrags a connection answers to: the current one and the one before an ICE restart,
/// whose checks may still be in flight while the restart is negotiated.
const MAX_UFRAGS: usize = 2;

/// How often str0m reports loss, jitter and round-trip time per stream: the inputs of the
/// connection quality rating, which holds a rating for at least 2 s.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Where a subscriber's bandwidth estimate starts, bit/s: a teacher's camera at its middle
/// layer beside a few voices (six of them take some 450 kbit/s on the wire). GCC probes upwards
/// from here within the first seconds (str0m probes at three and six times it at start), so
/// a good link reaches full quality within a few seconds and a weak one is not flooded
/// first. From 2.5 Mbit/s a pupil's 1 Mbit/s link was sent twice what it carries for its
/// first second, and the teacher's large frames were lost there while the thumbnails passed
/// (docs/benchmarks.md, "Where a subscriber's estimate starts").
pub(crate) const INITIAL_ESTIMATE: u64 = 1_000_000;

pub(crate) struct Conn {
    pub rtc: Rtc,
    pub key: ConnKey,
    /// Local ICE ufrags routed to this connection, newest last.
    pub ufrags: VecDeque<String>,
    /// Remote addresses whose STUN this connection accepted, oldest first.
    pub addrs: VecDeque<SocketAddr>,
    /// When a datagram for this connection last arrived: a connection that hears nothing (no
    /// media, no RTCP, no ICE consent check) for a few seconds has lost its path.
    pub last_input: Instant,
    /// When str0m next wants `Input::Timeout`.
    pub next_timeout: Instant,
    /// When it was last given one (crate::room, `BWE_TICK`).
    pub timeout_handled: Instant,
    /// ICE and DTLS are up; media written before this is dropped by str0m.
    pub connected: bool,
    /// Has had input (or a change of state) since it last returned a timeout, so it must be
    /// polled before the next input: str0m holds one incoming packet at a time.
    pub dirty: bool,
    /// Has had packets written to it since it was last polled: they go out when the worker
    /// flushes, once per batch of input rather than once per packet (each poll of an `Rtc`
    /// walks all its streams, 58 for a subscriber in a class of 30).
    pub written: bool,
    /// How long its video streams keep sent packets to answer NACKs
    /// (`nack_history` in crate::room::subscribe).
    pub nack_history: std::time::Duration,
}

impl Conn {
    /// A new ICE-lite connection with the server's host candidates and random ICE credentials,
    /// routed by its ufrag from now on.
    pub fn new(now: Instant, key: ConnKey, ctx: &mut Ctx) -> Conn {
        let (config, rng) = (&ctx.config, &mut ctx.rng);
        let creds = IceCreds {
            ufrag: random_token(rng, 8),
            pass: random_token(rng, 24),
        };
        let ufrag = creds.ufrag.clone();
        let mut builder = Rtc::builder()
            // ICE-lite: the browser runs the checks, the server answers them. One fewer state
            // machine per connection, and no outbound checks during a join surge.
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_dtls_cert(ctx.dtls_cert.clone())
            .set_stats_interval(Some(STATS_INTERVAL))
            // RTP mode: packets in, packets out, never reassembled into frames (room/forward.rs).
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true);
        // H.264 constrained baseline, packetization-mode 1: what Safari prefers and every
        // browser can decode in hardware.
        builder
            .codec_config()
            .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
        if key.direction == Direction::Subscribe && config.adaptation {
            // Send-side congestion control (GCC over transport-wide feedback, with probing) on
            // what the SFU sends: the estimate drives the subscriber's layers (room/adapt.rs).
            // Without adaptation nothing reads it, and its pacer and padding cost CPU.
            builder = builder.enable_bwe(Some(Bitrate::bps(INITIAL_ESTIMATE)));
        }
        let mut rtc = builder.build(now);
        for addr in &config.candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!(%addr, error = %e, "cannot use address as a candidate"),
            }
        }
        ctx.routes.add_ufrag(&ufrag, key.clone(), &mut ctx.out);
        Conn {
            rtc,
            key,
            ufrags: VecDeque::from([ufrag]),
            addrs: VecDeque::new(),
            last_input: now,
            next_timeout: now,
            timeout_handled: now,
            connected: false,
            dirty: true,
            written: false,
            nack_history: crate::room::NACK_HISTORY_MAX,
        }
    }

    /// Gives str0m the timeout it asked for, at `at`; a connection that fails on it is
    /// disconnected. Counted: each is a pass over all the connection's streams.
    pub fn give_timeout(&mut self, at: Instant, ctx: &mut Ctx) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(at)) {
            let ConnKey {
                participant,
                direction,
                ..
            } = &self.key;
            tracing::debug!(%participant, ?direction, error = %e, "connection timeout failed");
            self.rtc.disconnect();
        }
        self.timeout_handled = at;
        ctx.stats.conn_timeouts += 1;
    }

    /// Routes a remote address that this connection accepted a datagram from.
    pub fn handle_source(&mut self, source: SocketAddr, ctx: &mut Ctx) {
        if self.addrs.contains(&source) {
            return;
        }
        if self.addrs.len() == MAX_ADDRS {
            let oldest = self.addrs.pop_front().expect("full");
            ctx.routes.remove_addr(oldest, &self.key, &mut ctx.out);
        }
        self.addrs.push_back(source);
        ctx.routes.add_addr(source, self.key.clone(), &mut ctx.out);
    }

    /// Routes the ufrag str0m answers to now, if an ICE restart changed it.
    pub fn sync_ufrag(&mut self, ctx: &mut Ctx) -> bool {
        let ufrag = self.rtc.direct_api().local_ice_credentials().ufrag;
        self.add_ufrag(ufrag, ctx)
    }

    /// Routes a new local ufrag (an ICE restart's); returns false if it is already routed.
    pub fn add_ufrag(&mut self, ufrag: String, ctx: &mut Ctx) -> bool {
        if self.ufrags.contains(&ufrag) {
            return false;
        }
        if self.ufrags.len() == MAX_UFRAGS {
            let oldest = self.ufrags.pop_front().expect("full");
            ctx.routes.remove_ufrag(&oldest, &self.key, &mut ctx.out);
        }
        ctx.routes.add_ufrag(&ufrag, self.key.clone(), &mut ctx.out);
        self.ufrags.push_back(ufrag);
        true
    }

    /// Forgets every route to this connection (it is being dropped).
    pub fn unroute(&self, ctx: &mut Ctx) {
        for ufrag in &self.ufrags {
            ctx.routes.remove_ufrag(ufrag, &self.key, &mut ctx.out);
        }
        for addr in &self.addrs {
            ctx.routes.remove_addr(*addr, &self.key, &mut ctx.out);
        }
    }
}

fn random_token(rng: &mut impl Rng, len: usize) -> String {
    rng.sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
