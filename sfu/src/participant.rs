//! A participant's media state: its publish connection with the up tracks it carries, and its
//! subscribe connection with the m-line slots that carry other participants' streams down.

use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};

use crate::api::{DownTrackInfo, Kind, ParticipantId, Source};
use crate::clock::TimestampMapper;
use crate::conn::Conn;
use crate::keyframe::KeyframeLimiter;
use crate::limit::TokenBucket;
use crate::quality::QualityMeter;
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
    pub keyframes: KeyframeLimiter,
    /// Unique within the room for every new instance of a track (a new connection, or an
    /// m-line that starts sending again): a down slot rebases its RTP timestamps when the
    /// incarnation it forwards changes, as the new source starts from its own random ones.
    pub incarnation: u64,
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
    /// Video only: forward nothing until a keyframe, or the decoder shows garbage.
    pub need_keyframe: bool,
    pub clock: TimestampMapper,
    /// The up track incarnation whose frames could not be forwarded here, once said.
    pub unavailable_told: Option<u64>,
}

impl Slot {
    pub fn new(kind: Kind, target: StreamKey) -> Slot {
        Slot {
            mid: None,
            kind,
            negotiated: None,
            target: Some(target),
            offered: None,
            need_keyframe: kind == Kind::Video,
            clock: TimestampMapper::default(),
            unavailable_told: None,
        }
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
        }
    }

    /// Asks this participant's encoder for a keyframe of `source`, within the rate limit. Not
    /// while the source's gate is closed: nobody sees it, and reopening asks anew.
    pub fn request_keyframe(&mut self, source: Source, now: Instant) -> bool {
        if !self.gates.is_open(source) {
            return false;
        }
        let Some(up) = &mut self.up else {
            return false;
        };
        let Some(track) = up.tracks.iter_mut().find(|t| t.source == source) else {
            return false;
        };
        if track.kind != Kind::Video || !track.keyframes.handle_request(now) {
            return false;
        }
        send_pli(&mut up.conn, track.mid)
    }

    /// Pays keyframe requests the limiter held back and that are now due.
    pub fn handle_keyframe_timeouts(&mut self, now: Instant) -> usize {
        let Some(up) = &mut self.up else {
            return 0;
        };
        let mut sent = 0;
        for track in &mut up.tracks {
            if track.keyframes.handle_timeout(now) && send_pli(&mut up.conn, track.mid) {
                sent += 1;
            }
        }
        sent
    }

    pub fn keyframe_timeout(&self) -> Option<Instant> {
        let up = self.up.as_ref()?;
        up.tracks
            .iter()
            .filter_map(|t| t.keyframes.poll_timeout())
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

fn send_pli(conn: &mut Conn, mid: Mid) -> bool {
    let Some(mut writer) = conn.rtc.writer(mid) else {
        return false;
    };
    writer
        .request_keyframe(None, KeyframeRequestKind::Pli)
        .is_ok()
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
}
