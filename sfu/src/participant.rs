//! A participant's media state: its publish connection with the up tracks it carries, and its
//! subscribe connection with one down track per stream it receives.

use std::time::Instant;

use str0m::change::SdpPendingOffer;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};

use crate::api::{Kind, ParticipantId, Source};
use crate::clock::TimestampMapper;
use crate::conn::Conn;
use crate::keyframe::KeyframeLimiter;

/// A stream in the room: one publisher's one source. Down tracks are bound to this, not to an
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
    /// Counts publish connections; a down track rebases its timestamps when this changes.
    pub generation: u32,
    /// Which of its sources may reach others. Kept here, not on the up tracks, so that a
    /// mute outlives a re-publish and may be set before the first one.
    pub gates: Gates,
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
}

pub(crate) struct UpTrack {
    pub mid: Mid,
    pub kind: Kind,
    pub source: Source,
    pub keyframes: KeyframeLimiter,
}

/// The subscribe connection (SFU -> subscriber) and its negotiation state. The SFU is the only
/// side that offers on it, and never has more than one offer outstanding.
#[derive(Default)]
pub(crate) struct Down {
    /// Created with the first offer.
    pub conn: Option<Conn>,
    pub tracks: Vec<DownTrack>,
    pub pending: Option<SdpPendingOffer>,
}

pub(crate) struct DownTrack {
    pub stream: StreamKey,
    pub kind: Kind,
    pub state: DownState,
    /// Video only: forward nothing until a keyframe, or the decoder shows garbage.
    pub need_keyframe: bool,
    pub clock: TimestampMapper,
}

/// Where a down track's m-line is in the offer/answer cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DownState {
    /// Wanted, not yet in an offer.
    ToOpen,
    /// In the outstanding offer.
    Negotiating(Mid),
    /// Answered: media flows.
    Open(Mid),
    /// Its stream is gone; the m-line goes in the next offer as stopped.
    ToStop(Mid),
    /// Stopped in the outstanding offer.
    NegotiatingStop(Mid),
}

impl DownState {
    pub fn active_mid(self) -> Option<Mid> {
        match self {
            DownState::Negotiating(m) | DownState::Open(m) => Some(m),
            _ => None,
        }
    }
}

impl Participant {
    pub fn new(id: ParticipantId) -> Participant {
        Participant {
            id,
            up: None,
            down: Down::default(),
            generation: 0,
            gates: Gates::default(),
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
}
