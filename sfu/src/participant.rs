//! A participant's media state: its publish connection with the up tracks it carries, and its
//! subscribe connection with the m-line slots that carry other participants' streams down.

use std::time::{Duration, Instant};

use std::collections::HashMap;

use str0m::change::SdpPendingOffer;
use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::rtp::Ssrc;

use crate::api::{DownTrackInfo, Kind, ParticipantId, Source};
use crate::conn::Conn;
use crate::keyframe::KeyframeLimiter;
use crate::limit::TokenBucket;
use crate::quality::QualityMeter;
use crate::rewrite::Rewriter;
use crate::sdp::Section;

/// ICE restarts a client may ask for on one connection: a few at once (a network change can
/// fail both connections and the client retries), then one per interval. A page retries every
/// 5 s while its connection is down, which this lets through.
pub const ICE_RESTART_BURST: u32 = 3;
pub const ICE_RESTART_EVERY: Duration = Duration::from_secs(5);

/// A stream in the room: one publisher's one source. Down slots are bound to this, not to an
/// up track, so they outlive a publisher's reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StreamKey {
    pub publisher: ParticipantId,
    pub source: Source,
}

pub(crate) struct Participant {
    pub id: ParticipantId,
    pub up: Option<Up>,
    pub down: Down,
    /// Which of its sources may reach others. Kept here, not on the up tracks, so that a
    /// mute outlives a re-publish and may be set before the first one.
    pub gates: Gates,
    pub quality: QualityMeter,
    /// What its page shows, in device pixels per stream; `None` until its first `view`.
    pub view: Option<HashMap<StreamKey, u32>>,
    /// A host (teacher, chair, co-host): the allocator keeps its camera before the others'.
    pub host: bool,
}

/// One open/closed flag per [`Source`], all open at first. A bitset of closed gates: checked on
/// every frame, so a lookup is a shift and a mask.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gates {
    closed: u8,
}

impl Gates {
    pub fn is_open(self, source: Source) -> bool {
        self.closed & bit(source) == 0
    }

    /// Sets one gate; returns true if it changed.
    pub fn set(&mut self, source: Source, open: bool) -> bool {
        let before = self.closed;
        if open {
            self.closed &= !bit(source);
        } else {
            self.closed |= bit(source);
        }
        before != self.closed
    }
}

fn bit(source: Source) -> u8 {
    match source {
        Source::Microphone => 1,
        Source::Camera => 2,
        Source::Screen => 4,
    }
}

/// The publish connection (publisher -> SFU).
pub(crate) struct Up {
    pub conn: Conn,
    pub tracks: Vec<UpTrack>,
    /// The DTLS fingerprint of the client's peer connection. A publish offer with the same one
    /// renegotiates this connection; another one replaces it.
    pub fingerprint: String,
    /// The client's ICE ufrag: a renegotiation that changes it is an ICE restart.
    pub remote_ufrag: String,
    /// The audio and video m-lines of the last accepted offer, in order: a later offer must
    /// keep them (JSEP), and an ICE restart must not change them at all.
    pub sections: Vec<Section>,
    pub restarts: TokenBucket,
    /// The page that owned this connection reloaded (a fresh resume) at this time: its
    /// streams stay for the new page's first publish to take over, and go if none comes.
    pub orphaned_at: Option<Instant>,
}

pub(crate) struct UpTrack {
    pub mid: Mid,
    pub kind: Kind,
    pub source: Source,
    /// Unique within the room for every new instance of a track (a new connection, or an
    /// m-line that starts sending again): a down slot's rewriter starts anew when the
    /// incarnation it forwards changes, as the new source has its own numbers.
    pub incarnation: u64,
    /// Its encodings, smallest first; one (without a rid) when it does not simulcast.
    pub layers: Vec<UpLayer>,
    /// The payload types the publisher sends on it, with their parameters (learned from
    /// str0m's codec configuration on first use: a handful per track).
    pub payloads: Vec<(Pt, PayloadParams)>,
    /// The fraction of its packets the publisher's link lost, from the latest report: what
    /// every subscriber's reports show on top of their own links' loss.
    pub ingress_loss: f32,
    /// Whether the publisher was last told that its layers are on (by rid order); `None`:
    /// never told (all on, as the page starts); empty: unknown (after a resume), tell again.
    pub told_active: Option<Vec<bool>>,
    /// A screen share, or a host camera's first encoding, capped at its publisher because a
    /// subscriber could not take it whole.
    pub capped: Option<SourceCap>,
    /// When its publisher was last found sending a capped encoding at well over the cap (a
    /// page that ignores `camera_bitrate` or `screen_bitrate`): not capped again for a while.
    pub cap_ignored_at: Option<Instant>,
    /// When its first packet arrived: until a second later, a layer not seen yet counts as
    /// coming (browsers start their encodings within a few frames of each other), so the first
    /// choice of layer is the right one instead of whichever layer's packet came first.
    pub started: Option<Instant>,
}

/// A cap at a video's publisher (`SfuEvent::MaxBitrate`): on a screen share's one encoding,
/// or a camera's first. Its rates are on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceCap {
    /// The bit/s the publisher was told, and when.
    pub told: u64,
    pub since: Instant,
    /// What the encoding sent before the cap: the allocator goes on counting this, so a
    /// capped one does not look as if it fitted whole and the cap is lifted only when the
    /// subscribers can take it whole.
    pub uncapped: u64,
    /// When some subscriber last needed the cap.
    pub needed_at: Instant,
    /// The publisher's socket was replaced: tell it again.
    pub retell: bool,
    /// Whether the page keeps to it is judged from here (after a grace): when it was told,
    /// or when the capped encoding was last switched on again, its encoder starting afresh.
    pub judged_from: Instant,
    /// Where the window it is judged over began: then, and the encoding's bytes counted by
    /// then (`RateMeter::total`).
    pub window: Option<(Instant, u64)>,
}

/// One encoding of an up track.
pub(crate) struct UpLayer {
    pub rid: Option<Rid>,
    /// Its picture height, in lines (0 for audio).
    pub height: u32,
    pub keyframes: KeyframeLimiter,
    /// When its last packet arrived: a layer the publisher stopped sending (paused, or too
    /// large for its camera) is not chosen for anyone.
    pub last_packet: Option<Instant>,
    /// What it sends: bytes since the last allocation, and the smoothed rate.
    pub rate: RateMeter,
    /// The publisher was told to switch it off (nobody takes it), at this time; it counts as
    /// available to the allocator, which switches it back on when somebody wants it.
    pub paused_at_source: Option<Instant>,
    /// Since when nobody takes it (switched off after [`PAUSE_AT_SOURCE_AFTER`]).
    pub unwanted_since: Option<Instant>,
    /// When the publisher was last told to switch it on again: until its first packet it
    /// stays available to the allocator for [`SWITCH_ON_GRACE`]. Counted as gone at once, a
    /// host's lowest layer switched on for a thin link could not be capped at the next
    /// decision, and she was paused, every other video with her.
    pub switched_on: Option<Instant>,
}

/// How long a layer switched on again at its publisher may take to send: a signaling round
/// trip, the page's `setParameters` and the encoder's first frame.
pub const SWITCH_ON_GRACE: Duration = Duration::from_secs(2);

/// A layer nobody has taken for this long is switched off at the publisher: long enough that
/// a tile resized back and forth, or a layer switch in progress, does not toggle encoders.
pub const PAUSE_AT_SOURCE_AFTER: Duration = Duration::from_secs(3);

/// The bit rate of one layer, from the bytes it sent between allocations.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RateMeter {
    bytes: u64,
    /// Every byte counted, ever (wrapping): what was sent over a window is its difference.
    total: u64,
    /// Bit/s, smoothed over about two seconds; 0 until measured.
    bitrate: u64,
    /// Kept at `bitrate` until the next packet ([`RateMeter::hold`]).
    held: bool,
}

/// Per packet beyond its payload: RTP header with extensions (about 30 bytes), SRTP tag (10),
/// UDP and IPv4 (28). What a subscriber's link and the budgets carry, and what str0m's
/// estimate counts (docs/architecture.md, "GCC counts what the link carries").
pub const PACKET_OVERHEAD: u64 = 70;

impl RateMeter {
    pub fn handle_packet(&mut self, payload: usize) {
        self.held = false;
        self.bytes += payload as u64 + PACKET_OVERHEAD;
        self.total = self.total.wrapping_add(payload as u64 + PACKET_OVERHEAD);
    }

    /// Every byte counted so far, packet overhead included (wrapping).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Folds the bytes since the last call, `elapsed` ago, into the rate.
    pub fn handle_tick(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 || self.held {
            return;
        }
        let now = (self.bytes * 8) as f64 / secs;
        self.bytes = 0;
        // A new measurement weighs a quarter: at two ticks a second, about two seconds of
        // memory, so a keyframe does not make a layer look three times its rate.
        self.bitrate = if self.bitrate == 0 {
            now as u64
        } else {
            (self.bitrate as f64 * 0.75 + now * 0.25) as u64
        };
    }

    pub fn bitrate(&self) -> u64 {
        self.bitrate
    }

    /// Keeps the rate as it stands until the next packet: a layer switched off at its
    /// publisher sends about what it did before once it is switched on again, and measured
    /// down towards nothing meanwhile it would look a fraction of that for seconds after.
    pub fn hold(&mut self) {
        self.held = true;
        self.bytes = 0;
    }

    /// Whether the rate is one from before a hold, not yet measured again.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// A held rate taken as at least `bitrate`: what a layer held under a cap since lifted
    /// will send once it is switched on again.
    pub fn raise_held(&mut self, bitrate: u64) {
        if self.held {
            self.bitrate = self.bitrate.max(bitrate);
        }
    }
}

/// A simulcast layer that sent nothing for this long is taken as stopped: Chrome sends at
/// least a few frames a second on every active camera encoding, and a second is what a layer
/// switch may wait.
pub const LAYER_IDLE: Duration = Duration::from_secs(1);

/// The same for a track of one encoding (a screen share, a camera without simulcast), which
/// has no other layer to switch to. A static slide's frame comes again only once a second
/// (Chrome's screen share repeats an unchanged frame at 1 fps): taken as stopped between two
/// of them, the share was taken from its subscribers at a decision and each frame after
/// waited for a keyframe.
pub const SINGLE_LAYER_IDLE: Duration = Duration::from_secs(5);

impl UpLayer {
    /// Sending now, or (within `idle` of the track's first packet) not heard from yet.
    pub fn is_live(&self, track_started: Instant, now: Instant, idle: Duration) -> bool {
        match self.last_packet {
            Some(t) => now < t + idle,
            None => now < track_started + idle,
        }
    }
}

/// An up track's layers as (height, index if live), smallest first, unused entries
/// `(u32::MAX, None)`: read once per incoming packet, asked once per subscriber.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveLayers([(u32, Option<u8>); 3]);

impl LiveLayers {
    /// The layer for a page that shows the stream `height` lines high: the smallest live one
    /// at least that high, else the largest live one; `None` if none is live. The one rule for
    /// which layer a subscriber gets.
    pub fn for_height(&self, height: u32) -> Option<u8> {
        let fits = self.0.iter().find(|(h, l)| *h >= height && l.is_some());
        fits.or(self.0.iter().rev().find(|(_, l)| l.is_some()))
            .and_then(|(_, l)| *l)
    }
}

impl LiveLayers {
    /// `layer` if it is live, else the largest live one below it, else the smallest above;
    /// `None` if none is live.
    pub fn nearest(&self, layer: u8) -> Option<u8> {
        self.at_most(layer)
            .or_else(|| self.0.iter().find_map(|(_, l)| *l))
    }

    /// `layer` if it is live, else the largest live one below it; `None` if none is.
    pub fn at_most(&self, layer: u8) -> Option<u8> {
        self.0
            .iter()
            .rev()
            .find_map(|(_, l)| l.filter(|l| *l <= layer))
    }
}

impl UpTrack {
    /// How long one of its layers may send nothing before it counts as stopped.
    pub fn idle(&self) -> Duration {
        match self.layers.len() {
            0 | 1 => SINGLE_LAYER_IDLE,
            _ => LAYER_IDLE,
        }
    }

    /// Which of its (at most three) layers are live now.
    pub fn live_layers(&self, now: Instant) -> LiveLayers {
        let started = self.started.unwrap_or(now);
        let idle = self.idle();
        let mut layers = [(u32::MAX, None); 3];
        for (i, l) in self.layers.iter().enumerate().take(3) {
            layers[i] = (l.height, l.is_live(started, now, idle).then_some(i as u8));
        }
        LiveLayers(layers)
    }

    /// The layer to forward to a page that shows this stream `height` lines high.
    pub fn layer_for(&self, height: u32, now: Instant) -> Option<u8> {
        self.live_layers(now).for_height(height)
    }
}

/// The subscribe connection (SFU -> subscriber) and its negotiation state. The SFU is the only
/// side that offers on it, and never has more than one offer outstanding.
pub(crate) struct Down {
    /// Created with the first offer.
    pub conn: Option<Conn>,
    /// One per m-line, in m-line order. Never removed or reordered while the connection lives
    /// (JSEP): a slot whose stream ends becomes inactive and is reused for the next stream of
    /// its kind.
    pub slots: Vec<Slot>,
    pub pending: Option<SdpPendingOffer>,
    /// The outstanding offer as it was sent, for a resumed session that may have lost it.
    pub offered: Option<OfferSent>,
    /// The next offer restarts ICE.
    pub ice_restart: bool,
    /// The connection was rebuilt: the next offer tells the client to start a new one too.
    pub reset: bool,
    pub restarts: TokenBucket,
    /// The send-side bandwidth estimate of the connection (bit/s), once str0m has one.
    pub estimate: Option<u64>,
    /// The allocator's last decision was audio-only (for its hysteresis).
    pub audio_only: bool,
    /// The participant was rated `lost` (silent for seconds): when it is heard again, its
    /// link starts afresh (`fresh_path`).
    pub was_lost: bool,
    /// What the subscriber was last told of paused videos and its own link (`Bandwidth`);
    /// `None`: its socket may have lost it (a new page starts with nothing paused).
    pub told: Option<(Vec<(ParticipantId, Source)>, bool)>,
    /// When to pad the link to look for the next step up.
    pub padding: crate::padding::Padding,
    /// What the link carried when last in use, for an estimate that fell while the page
    /// showed no video.
    pub carried: crate::padding::Carried,
    /// The worst loss its receiver reports gave for its own link (the publishers' part
    /// taken out) in the latest second, and when that second began.
    pub link_loss: Option<(f32, Instant)>,
    /// The allocator's last decision: what it sends the subscriber and the estimate it was
    /// made on (bit/s). An estimate that falls below both is acted on at once, not at the next
    /// round.
    pub decided: (u64, u64),
    /// Since when its own link has held it below what its page shows, without a break; the
    /// page is told only once that has lasted `LIMITED_AFTER` (crate::room::adapt).
    pub limited_since: Option<Instant>,
    /// When its path's first estimate came (since the connection, or since `fresh_path`): in
    /// its first seconds the estimate starts from a guess that str0m's probes correct
    /// (crate::room::adapt, `WARM_UP`).
    pub path_since: Option<Instant>,
    /// Until when it is decided on GCC's estimate as it stands rather than the average str0m
    /// announces: its link was found overfull (crate::room::adapt, `OVERFULL`).
    pub overfull_until: Option<Instant>,
    /// Its recent estimates, whose trough a raise that takes a layer from another video
    /// must fit (crate::sustained).
    pub sustained: crate::sustained::Sustained,
    /// Its link's recent one-way delays (µs, with an offset between the clocks), whose least
    /// is the path without a queue (crate::room::adapt, `watch_overflow`).
    pub delays: crate::sustained::Sustained<i64>,
    /// The latest packet feedback reported on when its link was last looked at: a look at
    /// the same report again finds nothing new.
    pub looked_at: Option<Instant>,
    /// Its link found overflowing (crate::room::adapt, `watch_overflow`): until when, and the
    /// least it was seen to deliver meanwhile (bit/s).
    pub overflow: Option<(Instant, u64)>,
    /// The delivered rate it was last decided on at once for an overflow (bit/s).
    pub overflow_decided: Option<u64>,
}

impl Down {
    /// A new path, or the old one back after an outage: what it carried before, and what it
    /// lost meanwhile, say nothing about it now and would hold the estimate down for many
    /// seconds. Start again, as a browser does when its route changes: the initial estimate,
    /// no audio-only, nothing held back by the hold of earlier downgrades.
    pub fn fresh_path(&mut self, adaptation: bool) {
        if let Some(conn) = self.conn.as_mut().filter(|_| adaptation) {
            let initial = crate::conn::INITIAL_ESTIMATE;
            conn.rtc.bwe().reset(str0m::bwe::Bitrate::bps(initial));
            conn.dirty = true;
            self.estimate = Some(initial);
        }
        self.audio_only = false;
        self.padding.reset();
        self.carried = crate::padding::Carried::default();
        self.link_loss = None;
        self.limited_since = None;
        self.path_since = None;
        self.overfull_until = None;
        self.sustained.reset();
        self.delays.reset();
        self.looked_at = None;
        self.overflow = None;
        self.overflow_decided = None;
        for slot in &mut self.slots {
            slot.lowered_at = None;
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OfferSent {
    pub sdp: String,
    pub tracks: Vec<DownTrackInfo>,
    pub reset: bool,
}

impl Default for Down {
    fn default() -> Down {
        Down {
            conn: None,
            slots: Vec::new(),
            pending: None,
            offered: None,
            ice_restart: false,
            reset: false,
            restarts: TokenBucket::new(ICE_RESTART_BURST, ICE_RESTART_EVERY),
            estimate: None,
            audio_only: false,
            was_lost: false,
            told: Some((Vec::new(), false)),
            padding: crate::padding::Padding::default(),
            carried: crate::padding::Carried::default(),
            link_loss: None,
            decided: (0, 0),
            limited_since: None,
            path_since: None,
            overfull_until: None,
            sustained: Default::default(),
            delays: Default::default(),
            looked_at: None,
            overflow: None,
            overflow_decided: None,
        }
    }
}

/// One m-line of a subscribe connection.
pub(crate) struct Slot {
    /// Assigned when the m-line is first offered.
    pub mid: Option<Mid>,
    pub kind: Kind,
    /// What the last accepted answer established it carries; `None`: inactive (or never
    /// answered yet).
    pub negotiated: Option<StreamKey>,
    /// What it should carry.
    pub target: Option<StreamKey>,
    /// In the outstanding offer: what that offer says it carries.
    pub offered: Option<Option<StreamKey>>,
    /// The header values the subscriber sees, continuous whatever source feeds the slot; a
    /// video slot forwards a new source (layer, incarnation) only from one of its keyframes.
    pub rewriter: Rewriter,
    /// How high the subscriber's page shows this stream, in device pixels; `None`: not at all.
    pub height: Option<u32>,
    /// The layer the allocator gives it: `None` before the first allocation (the layer is
    /// then chosen by `height`), `Some(None)` for none (hidden or paused).
    pub layer: Option<Option<u8>>,
    /// Shown, but paused by the allocator.
    pub paused: bool,
    /// When the allocator last lowered or paused it (no raise within `UPGRADE_HOLD`).
    pub lowered_at: Option<Instant>,
    /// When the allocator last gave it a layer after a pause (a host's video then goes
    /// first, crate::allocate::FIRST_WAIT).
    pub resumed_at: Option<Instant>,
    /// Lowered because the subscriber's link no longer carries the layer it forwards: that
    /// layer stops at the end of a frame instead of running on until the lower one's
    /// keyframe, as soon as the link is losing packets too (crate::room::forward).
    pub cut: bool,
    /// Lowered so, after its path's first seconds: what of the layer still waits in str0m's
    /// pacer queue is dropped when it stops (crate::room::forward). In the first seconds the
    /// path's guess, not a drop, overflowed the link, and the queue is left to drain as
    /// before.
    pub drop_queue: bool,
    /// The payload type this subscriber takes for the publisher's last one: (in, out).
    pub pt: Option<(Pt, Pt)>,
    /// The SSRC of the send stream on its m-line, once looked up (`forward::send_stream`).
    pub tx_ssrc: Option<Ssrc>,
    /// The up track incarnation whose packets could not be forwarded here, once said.
    pub unavailable_told: Option<u64>,
}

/// How high a video is shown by a page that has not said (no `view` yet): the middle layer of
/// a camera (protocol.md, `view`).
pub const DEFAULT_HEIGHT: u32 = 360;

impl Slot {
    pub fn new(kind: Kind, target: StreamKey) -> Slot {
        Slot {
            mid: None,
            kind,
            negotiated: None,
            target: Some(target),
            offered: None,
            rewriter: Rewriter::default(),
            height: Some(DEFAULT_HEIGHT),
            layer: None,
            paused: false,
            lowered_at: None,
            resumed_at: None,
            cut: false,
            drop_queue: false,
            pt: None,
            tx_ssrc: None,
            unavailable_told: None,
        }
    }

    /// A free m-line takes `stream`: it keeps its mid and its header values (the subscriber
    /// sees one stream on it), nothing the allocator or the forwarder knew of the stream it
    /// carried before. A stale layer was forwarded to the newcomer until its first decision,
    /// a stale pause or hold kept it back, a stale payload type mapping could be another
    /// codec's.
    pub fn retarget(&mut self, stream: StreamKey) {
        let rewriter = std::mem::take(&mut self.rewriter);
        *self = Slot {
            mid: self.mid,
            rewriter,
            tx_ssrc: self.tx_ssrc,
            ..Slot::new(self.kind, stream)
        };
    }

    /// The stream whose media goes out on this m-line now: negotiated, and still wanted.
    pub fn live(&self) -> Option<(Mid, StreamKey)> {
        match (self.mid, self.negotiated) {
            (Some(mid), Some(s)) if self.target == Some(s) => Some((mid, s)),
            _ => None,
        }
    }

    /// Inactive, answered and in no offer: may carry a new stream of its kind.
    pub fn is_free(&self) -> bool {
        self.mid.is_some()
            && self.negotiated.is_none()
            && self.target.is_none()
            && self.offered.is_none()
    }

    /// Differs from what was last negotiated, so the next offer must say so.
    pub fn needs_offer(&self) -> bool {
        self.mid.is_none() || self.target != self.negotiated
    }

    /// The stream the client should map this m-line to once the outstanding offer is applied.
    pub fn announced(&self) -> Option<StreamKey> {
        self.offered.unwrap_or(self.negotiated)
    }
}

impl Participant {
    pub fn new(id: ParticipantId) -> Participant {
        Participant {
            id,
            up: None,
            down: Down::default(),
            gates: Gates::default(),
            quality: QualityMeter::default(),
            view: None,
            host: false,
        }
    }

    /// How high this participant's page shows `stream` (`None`: not at all).
    pub fn shown_height(&self, stream: StreamKey) -> Option<u32> {
        match &self.view {
            None => Some(DEFAULT_HEIGHT),
            Some(view) => view.get(&stream).copied(),
        }
    }

    /// Asks this participant's encoder for a keyframe of `source` on `layer` (`None`: every
    /// layer), within the rate limit of each. Not while the source's gate is closed: nobody
    /// sees it, and reopening asks anew.
    pub fn request_keyframe(&mut self, source: Source, layer: Option<u8>, now: Instant) -> usize {
        if !self.gates.is_open(source) {
            return 0;
        }
        let Some(up) = &mut self.up else {
            return 0;
        };
        let Some(track) = up.tracks.iter_mut().find(|t| t.source == source) else {
            return 0;
        };
        if track.kind != Kind::Video {
            return 0;
        }
        let mut sent = 0;
        for (i, l) in track.layers.iter_mut().enumerate() {
            if layer.is_some_and(|want| want as usize != i) || !l.keyframes.handle_request(now) {
                continue;
            }
            sent += usize::from(send_pli(&mut up.conn, track.mid, l.rid));
        }
        sent
    }

    /// Pays keyframe requests the limiters held back and that are now due.
    pub fn handle_keyframe_timeouts(&mut self, now: Instant) -> usize {
        let Some(up) = &mut self.up else {
            return 0;
        };
        let mut sent = 0;
        for track in &mut up.tracks {
            for l in &mut track.layers {
                if l.keyframes.handle_timeout(now) && send_pli(&mut up.conn, track.mid, l.rid) {
                    sent += 1;
                }
            }
        }
        sent
    }

    pub fn keyframe_timeout(&self) -> Option<Instant> {
        let up = self.up.as_ref()?;
        up.tracks
            .iter()
            .flat_map(|t| t.layers.iter())
            .filter_map(|l| l.keyframes.poll_timeout())
            .min()
    }

    /// Both connections, for driving them.
    pub fn conns_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        let up = self.up.as_mut().map(|u| &mut u.conn);
        up.into_iter().chain(self.down.conn.as_mut())
    }

    pub fn conns(&self) -> impl Iterator<Item = &Conn> {
        let up = self.up.as_ref().map(|u| &u.conn);
        up.into_iter().chain(self.down.conn.as_ref())
    }

    /// One of its connections was up and has heard nothing for `limit` (not counting a
    /// publish connection its reloaded page left behind).
    pub fn is_silent(&self, now: Instant, limit: Duration) -> bool {
        let orphaned = self.up.as_ref().is_some_and(|u| u.orphaned_at.is_some());
        let up = self.up.as_ref().filter(|_| !orphaned).map(|u| &u.conn);
        up.into_iter()
            .chain(self.down.conn.as_ref())
            .any(|c| c.connected && c.rtc.is_alive() && now >= c.last_input + limit)
    }

    /// The kind of the up track on `mid`, for reading its stats.
    pub fn up_kind(&self, mid: Mid) -> Option<Kind> {
        let up = self.up.as_ref()?;
        up.tracks.iter().find(|t| t.mid == mid).map(|t| t.kind)
    }
}

fn send_pli(conn: &mut Conn, mid: Mid, rid: Option<Rid>) -> bool {
    let mut api = conn.rtc.direct_api();
    let Some(stream) = api.stream_rx_by_mid(mid, rid) else {
        return false;
    };
    stream.request_keyframe(KeyframeRequestKind::Pli);
    conn.written = true;
    true
}

pub(crate) fn kind_of(kind: MediaKind) -> Kind {
    match kind {
        MediaKind::Audio => Kind::Audio,
        MediaKind::Video => Kind::Video,
    }
}

pub(crate) fn media_kind(kind: Kind) -> MediaKind {
    match kind {
        Kind::Audio => MediaKind::Audio,
        Kind::Video => MediaKind::Video,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_rate_stands_through_ticks_until_the_next_packet() {
        let tick = Duration::from_millis(500);
        let mut m = RateMeter::default();
        // 100 packets of 555 bytes (625 with overhead) a tick: 1 Mbit/s.
        let send = |m: &mut RateMeter| (0..100).for_each(|_| m.handle_packet(555));
        for _ in 0..8 {
            send(&mut m);
            m.handle_tick(tick);
        }
        assert_eq!(m.bitrate(), 1_000_000);
        // What came in since the last tick is not part of what holds.
        (0..50).for_each(|_| m.handle_packet(555));
        m.hold();
        for _ in 0..30 {
            m.handle_tick(tick);
        }
        assert!(m.is_held());
        assert_eq!(m.bitrate(), 1_000_000, "held while nothing is sent");
        m.raise_held(800_000);
        assert_eq!(m.bitrate(), 1_000_000, "raised, never lowered");
        m.raise_held(1_500_000);
        assert_eq!(m.bitrate(), 1_500_000);
        m.raise_held(1_000_000);
        send(&mut m);
        assert!(!m.is_held());
        m.raise_held(2_000_000);
        assert_eq!(m.bitrate(), 1_500_000, "only a held rate is raised");
        m.handle_tick(tick);
        assert_eq!(m.bitrate(), 1_375_000);
        // Measured again: silence now counts.
        m.handle_tick(tick);
        assert_eq!(m.bitrate(), 1_031_250);
    }

    #[test]
    fn gates_start_open_and_close_one_source_at_a_time() {
        let mut g = Gates::default();
        assert!(
            [Source::Microphone, Source::Camera, Source::Screen]
                .iter()
                .all(|s| g.is_open(*s))
        );
        assert!(g.set(Source::Microphone, false));
        assert!(
            !g.set(Source::Microphone, false),
            "closing twice changes nothing"
        );
        assert!(!g.is_open(Source::Microphone));
        assert!(g.is_open(Source::Camera) && g.is_open(Source::Screen));
        assert!(g.set(Source::Microphone, true));
        assert_eq!(g, Gates::default());
    }

    fn key(p: u32) -> StreamKey {
        StreamKey {
            publisher: ParticipantId(p),
            source: Source::Camera,
        }
    }

    #[test]
    fn a_slot_is_live_only_when_answered_and_still_wanted() {
        let mut s = Slot::new(Kind::Video, key(1));
        assert!(s.needs_offer() && s.live().is_none());
        s.mid = Some(Mid::from("0"));
        s.offered = Some(Some(key(1)));
        assert_eq!(s.announced(), Some(key(1)));
        assert!(s.live().is_none(), "not before the answer");
        assert_eq!(s.height, Some(DEFAULT_HEIGHT));
        s.negotiated = s.offered.take().expect("offered");
        assert_eq!(s.live(), Some((Mid::from("0"), key(1))));
        assert!(!s.needs_offer());
        // The publisher leaves: nothing more goes out at once, the m-line must go inactive.
        s.target = None;
        assert!(s.live().is_none() && s.needs_offer() && !s.is_free());
        s.offered = Some(None);
        assert!(!s.is_free(), "not while the offer is out");
        s.negotiated = s.offered.take().expect("offered");
        assert!(s.is_free());
    }

    fn simulcast_track(started: Instant) -> UpTrack {
        let layer = |rid: &str, height| UpLayer {
            rid: Some(Rid::from(rid)),
            height,
            keyframes: KeyframeLimiter::default(),
            last_packet: None,
            rate: RateMeter::default(),
            paused_at_source: None,
            unwanted_since: None,
            switched_on: None,
        };
        UpTrack {
            mid: Mid::from("0"),
            kind: Kind::Video,
            source: Source::Camera,
            incarnation: 1,
            layers: vec![layer("q", 180), layer("h", 360), layer("f", 720)],
            payloads: Vec::new(),
            ingress_loss: 0.0,
            told_active: None,
            capped: None,
            cap_ignored_at: None,
            started: Some(started),
        }
    }

    #[test]
    fn the_smallest_layer_at_least_the_tile_is_chosen_among_live_ones() {
        let t0 = Instant::now();
        let mut track = simulcast_track(t0);
        // Within a second of the first packet, layers not heard from yet count as coming.
        let early = t0 + Duration::from_millis(100);
        assert_eq!(track.layer_for(120, early), Some(0));
        assert_eq!(track.layer_for(300, early), Some(1));
        assert_eq!(track.layer_for(720, early), Some(2));
        assert_eq!(
            track.layer_for(2160, early),
            Some(2),
            "largest if none is enough"
        );

        // Two seconds in, only q and h were ever seen: a full-screen tile gets h.
        let later = t0 + Duration::from_secs(2);
        track.layers[0].last_packet = Some(later);
        track.layers[1].last_packet = Some(later);
        assert_eq!(track.layer_for(720, later), Some(1));
        assert_eq!(track.layer_for(100, later), Some(0));

        // h stops (the browser paused it): the next live layer is used, smaller if need be.
        let much_later = later + LAYER_IDLE + Duration::from_millis(1);
        track.layers[0].last_packet = Some(much_later);
        assert_eq!(track.layer_for(360, much_later), Some(0));

        // Nothing sent for a second: nothing to forward.
        let silent = much_later + LAYER_IDLE;
        assert_eq!(track.layer_for(360, silent), None);
    }

    #[test]
    fn a_track_of_one_encoding_is_live_between_frames_a_second_apart() {
        let t0 = Instant::now();
        let mut slides = simulcast_track(t0);
        (slides.source, slides.layers) = (Source::Screen, slides.layers.split_off(2));
        slides.layers[0].last_packet = Some(t0);
        // A static slide's frame again a second later, and a little more.
        let between = t0 + Duration::from_millis(1_400);
        assert_eq!(slides.layer_for(1080, between), Some(0));
        assert_eq!(
            slides.layer_for(1080, t0 + SINGLE_LAYER_IDLE),
            None,
            "stopped"
        );
    }
}
