//! The sending half of a bot: its publish offer and the clock that writes synthetic frames.
//!
//! Frames go through str0m's frame-level `Writer`, so str0m packetizes them as it would real
//! Opus and VP8; audio frames carry their level in the `ssrc-audio-level` header extension, as
//! browsers send it, so the SFU can tell who talks. One call to [`Publisher::write_due`] writes at most one frame, because each
//! write is an `Rtc` mutation the caller must drain before the next.

use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequest, MediaKind, Mid, Pt};
use str0m::{Rtc, RtcError};

use crate::media::{AUDIO_FRAME_INTERVAL, AudioConfig, AudioSource, VideoConfig, VideoSource};
use crate::media::{Frame, unix_micros};
use crate::protocol::{PublishTrack, Source};
use crate::stats::SentStats;

/// A bot that has fallen this far behind its frame clock (an overloaded machine) skips ahead
/// instead of bursting the missed frames, as a real encoder would drop them.
const MAX_LAG: Duration = Duration::from_millis(200);

/// One synthetic track and when its next frame is due.
struct Track<S> {
    mid: Mid,
    source: S,
    interval: Duration,
    /// The negotiated payload type; known once the answer is applied.
    pt: Option<Pt>,
    /// `None` until the connection is up: str0m drops frames written before that.
    next: Option<Instant>,
}

impl<S> Track<S> {
    fn new(mid: Mid, source: S, interval: Duration) -> Self {
        Track {
            mid,
            source,
            interval,
            pt: None,
            next: None,
        }
    }

    /// Whether a frame is due at `now`; if so, moves the clock on and returns the frame's
    /// scheduled time.
    fn take_due(&mut self, now: Instant) -> Option<Instant> {
        let due = self.next.filter(|&t| t <= now)?;
        let next = due + self.interval;
        self.next = Some(if next + MAX_LAG < now { now } else { next });
        Some(due)
    }
}

/// The synthetic audio and video tracks of a bot's publish connection.
pub(crate) struct Publisher {
    audio: Option<Track<AudioSource>>,
    video: Option<Track<VideoSource>>,
    rng: StdRng,
    /// Reused for every frame; the only per-frame allocation is the `Arc` str0m keeps.
    buf: Vec<u8>,
}

impl Publisher {
    /// Adds a send-only m-line per configured track to `rtc` and makes the offer. Returns the
    /// publisher, the offer with its pending state, and the `tracks` of the `publish` message.
    pub fn offer(
        rtc: &mut Rtc,
        audio: Option<AudioConfig>,
        video: Option<VideoConfig>,
        seed: u64,
    ) -> Option<(Publisher, SdpOffer, SdpPendingOffer, Vec<PublishTrack>)> {
        let mut api = rtc.sdp_api();
        let mut tracks = Vec::new();
        let audio = audio.map(|config| {
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            tracks.push(PublishTrack {
                mid: mid.to_string(),
                source: Source::Microphone,
            });
            Track::new(mid, AudioSource::new(config), AUDIO_FRAME_INTERVAL)
        });
        let video = video.map(|config| {
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            tracks.push(PublishTrack {
                mid: mid.to_string(),
                source: Source::Camera,
            });
            let source = VideoSource::new(config);
            let interval = source.frame_interval();
            Track::new(mid, source, interval)
        });
        let (offer, pending) = api.apply()?;
        let publisher = Publisher {
            audio,
            video,
            rng: StdRng::seed_from_u64(seed),
            buf: Vec::with_capacity(2048),
        };
        Some((publisher, offer, pending, tracks))
    }

    /// The connection is up (DTLS done): look up the negotiated payload types and start the
    /// frame clocks. Returns false if the answer left out Opus or VP8 for a track.
    pub fn handle_connected(&mut self, rtc: &mut Rtc, now: Instant) -> bool {
        let mut ok = true;
        if let Some(t) = &mut self.audio {
            t.pt = payload_type(rtc, t.mid, Codec::Opus);
            t.next = Some(now);
            ok &= t.pt.is_some();
        }
        if let Some(t) = &mut self.video {
            t.pt = payload_type(rtc, t.mid, Codec::Vp8);
            t.next = Some(now);
            ok &= t.pt.is_some();
        }
        ok
    }

    /// A PLI or FIR for one of our tracks: the next video frame is a keyframe.
    pub fn handle_keyframe_request(&mut self, req: &KeyframeRequest, sent: &mut SentStats) {
        if let Some(t) = self.video.as_mut().filter(|t| t.mid == req.mid) {
            t.source.request_keyframe();
            sent.keyframe_requests += 1;
        }
    }

    /// Changes the audio level of the frames from now on; nothing if there is no audio.
    pub fn set_audio_level(&mut self, level_dbov: i8) {
        if let Some(t) = &mut self.audio {
            t.source.set_level(level_dbov);
        }
    }

    /// When the next frame is due, if the clocks run.
    pub fn next_due(&self) -> Option<Instant> {
        let audio = self.audio.as_ref().and_then(|t| t.next);
        let video = self.video.as_ref().and_then(|t| t.next);
        audio.into_iter().chain(video).min()
    }

    /// Writes one frame that is due at `now`, if any, and says whether it did. The caller
    /// drains `rtc` and calls again until it returns false.
    pub fn write_due(
        &mut self,
        rtc: &mut Rtc,
        now: Instant,
        sent: &mut SentStats,
    ) -> Result<bool, RtcError> {
        let sent_us = || unix_micros(SystemTime::now());
        if let Some(t) = self.audio.as_mut()
            && let Some(due) = t.take_due(now)
        {
            let frame = t.source.next_frame(sent_us(), &mut self.rng, &mut self.buf);
            let level = Some(t.source.level());
            write(rtc, t.mid, t.pt, due, frame, level, &self.buf)?;
            sent.audio_frames += 1;
            sent.bytes += self.buf.len() as u64;
            return Ok(true);
        }
        if let Some(t) = self.video.as_mut()
            && let Some(due) = t.take_due(now)
        {
            let frame = t.source.next_frame(sent_us(), &mut self.rng, &mut self.buf);
            write(rtc, t.mid, t.pt, due, frame, None, &self.buf)?;
            sent.video_frames += 1;
            sent.keyframes += u64::from(frame.keyframe);
            sent.bytes += self.buf.len() as u64;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Hands one frame to str0m, with its audio level and voice activity if it has them. A track
/// without a payload type or writer skips its frame: the clock still advances, so nothing
/// piles up.
fn write(
    rtc: &mut Rtc,
    mid: Mid,
    pt: Option<Pt>,
    due: Instant,
    frame: Frame,
    level: Option<(i8, bool)>,
    data: &[u8],
) -> Result<(), RtcError> {
    let (Some(pt), Some(mut writer)) = (pt, rtc.writer(mid)) else {
        return Ok(());
    };
    if let Some((level, voice)) = level {
        writer = writer.audio_level(level, voice);
    }
    writer.write(pt, due, frame.rtp_time, data)
}

/// The payload type the answer gave `codec` on `mid`.
fn payload_type(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    let writer = rtc.writer(mid)?;
    writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}
