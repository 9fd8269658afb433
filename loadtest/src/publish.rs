//! The sending half of a bot: its publish offer and the clock that writes synthetic frames.
//!
//! Frames go through str0m's frame-level `Writer`, so str0m packetizes them as it would real
//! Opus and VP8; audio frames carry their level in the `ssrc-audio-level` header extension, as
//! browsers send it, so the SFU can tell who talks. A simulcast camera is one m-line with
//! three rids (`a=simulcast:send q;h;f`), written with `Writer::rid` layer by layer, each
//! layer answering keyframe requests for its own rid, as the web client's camera does. One
//! call to [`Publisher::write_due`] writes at most one frame (one layer's), because each
//! write is an `Rtc` mutation the caller must drain before the next.

use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequest, MediaKind, Mid, Pt, Rid, Rids};
use str0m::media::{Simulcast, SimulcastLayer};
use str0m::{Rtc, RtcError};

use crate::media::{AUDIO_FRAME_INTERVAL, AudioConfig, AudioSource, VideoConfig, VideoSource};
use crate::media::{Frame, RIDS, unix_micros};
use crate::protocol::{PublishLayer, PublishTrack, Source};
use crate::stats::{MAX_LAYERS, SentStats};

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

/// One encoding of the camera: its rid (`None` without simulcast) and its source.
struct Layer {
    rid: Option<Rid>,
    source: VideoSource,
    /// Sent, or switched off because nobody takes it (`encodings`), as a page sets
    /// `RTCRtpSender` encodings `active: false`.
    active: bool,
}

/// The synthetic audio and video tracks of a bot's publish connection.
pub(crate) struct Publisher {
    audio: Option<Track<AudioSource>>,
    /// The camera's encodings, smallest first, on one clock.
    video: Option<Track<Vec<Layer>>>,
    /// The camera frame being written: its scheduled time and the next layer to write. Every
    /// layer encodes the same capture, so they share its time and frame number.
    video_tick: Option<(Instant, usize)>,
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
                layers: Vec::new(),
            });
            Track::new(mid, AudioSource::new(config), AUDIO_FRAME_INTERVAL)
        });
        let video = video.map(|config| {
            let simulcast = config.encodings.is_simulcast().then(|| {
                let mut s = Simulcast::new();
                for rid in RIDS {
                    s.add_send_layer(SimulcastLayer::new(rid));
                }
                s
            });
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast);
            let (layers, announced) = camera_layers(&config);
            tracks.push(PublishTrack {
                mid: mid.to_string(),
                source: Source::Camera,
                layers: announced,
            });
            let interval = layers[0].source.frame_interval();
            Track::new(mid, layers, interval)
        });
        let (offer, pending) = api.apply()?;
        let publisher = Publisher {
            audio,
            video,
            video_tick: None,
            rng: StdRng::seed_from_u64(seed),
            buf: Vec::with_capacity(2048),
        };
        Some((publisher, offer, pending, tracks))
    }

    /// The connection is up (DTLS done): look up the negotiated payload types and rids and
    /// start the frame clocks. Says what the answer left out: Opus or VP8 for a track (that
    /// track sends nothing), or simulcast (the camera sends its largest layer alone).
    pub fn handle_connected(&mut self, rtc: &mut Rtc, now: Instant) -> Option<&'static str> {
        let mut problem = None;
        if let Some(t) = &mut self.audio {
            t.pt = payload_type(rtc, t.mid, Codec::Opus);
            t.next = Some(now);
            problem = problem.or(t.pt.is_none().then_some("publish answer lacks opus"));
        }
        if let Some(t) = &mut self.video {
            t.pt = payload_type(rtc, t.mid, Codec::Vp8);
            t.next = Some(now);
            problem = problem.or(t.pt.is_none().then_some("publish answer lacks vp8"));
            if !keep_negotiated_rids(rtc, t.mid, &mut t.source) {
                problem = problem.or(Some("publish answer refused some simulcast layers"));
            }
        }
        problem
    }

    /// A PLI or FIR for the camera: the next frame of the layer it names is a keyframe (of
    /// every layer, if it names none).
    pub fn handle_keyframe_request(&mut self, req: &KeyframeRequest, sent: &mut SentStats) {
        if let Some(t) = self.video.as_mut().filter(|t| t.mid == req.mid) {
            let asked = |l: &&mut Layer| req.rid.is_none() || l.rid == req.rid;
            for layer in t.source.iter_mut().filter(asked) {
                layer.source.request_keyframe();
            }
            sent.keyframe_requests += 1;
        }
    }

    /// Switches the camera's encodings on and off as `encodings` says (by rid; an empty rid is
    /// the one encoding of a camera without simulcast). An encoding switched back on starts
    /// with a keyframe, as a browser's encoder does. Rids the camera does not have are ignored.
    pub fn set_active(&mut self, active: &[(String, bool)]) {
        let Some(t) = &mut self.video else { return };
        for layer in &mut t.source {
            let rid = layer.rid.as_ref().map_or("", |r| r.as_ref());
            let Some((_, on)) = active.iter().find(|(r, _)| r == rid) else {
                continue;
            };
            if *on && !layer.active {
                layer.source.request_keyframe();
            }
            layer.active = *on;
        }
    }

    /// Caps the camera's lowest encoding at `max_bitrate` bit/s (`None`: its own rate again),
    /// as a page does on `camera_bitrate`: its frames get smaller, not fewer. A camera without
    /// simulcast is not capped (the server does not ask).
    pub fn cap_lowest(&mut self, max_bitrate: Option<u64>) {
        let Some(t) = &mut self.video else { return };
        if t.source.len() < 2 {
            return;
        }
        let cap = max_bitrate.map(|b| u32::try_from(b).unwrap_or(u32::MAX));
        t.source[0].source.set_max_bitrate(cap);
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
            write(rtc, (t.mid, None), t.pt, due, frame, level, &self.buf)?;
            sent.audio_frames += 1;
            sent.bytes += self.buf.len() as u64;
            return Ok(true);
        }
        if let Some(t) = self.video.as_mut() {
            if self.video_tick.is_none() {
                self.video_tick = t.take_due(now).map(|due| (due, 0));
            }
            let Some((due, i)) = self.video_tick else {
                return Ok(false);
            };
            self.video_tick = (i + 1 < t.source.len()).then_some((due, i + 1));
            let layer = &mut t.source[i];
            if !layer.active {
                // Nothing to encode; the frame numbers go on, as the capture does.
                layer.source.skip_frame();
                return Ok(true);
            }
            let frame = layer
                .source
                .next_frame(sent_us(), &mut self.rng, &mut self.buf);
            let mid = (t.mid, layer.rid);
            write(rtc, mid, t.pt, due, frame, None, &self.buf)?;
            sent.video_frames += u64::from(i == 0);
            sent.layer_frames[i.min(MAX_LAYERS - 1)] += 1;
            sent.keyframes += u64::from(frame.keyframe);
            sent.bytes += self.buf.len() as u64;
            return Ok(true);
        }
        Ok(false)
    }
}

/// The camera's layers, smallest first, and how `publish.tracks[].layers` announces them
/// (nothing without simulcast).
fn camera_layers(config: &VideoConfig) -> (Vec<Layer>, Vec<PublishLayer>) {
    let simulcast = config.encodings.is_simulcast();
    let encodings = config.encodings.as_slice();
    let layers = (0..encodings.len())
        .map(|i| Layer {
            rid: simulcast.then(|| Rid::from(RIDS[i])),
            source: VideoSource::new(config, i),
            active: true,
        })
        .collect();
    let announced = encodings
        .iter()
        .zip(RIDS)
        .filter(|_| simulcast)
        .map(|(e, rid)| PublishLayer {
            rid: rid.to_owned(),
            width: u32::from(e.width),
            height: u32::from(e.height),
        })
        .collect();
    (layers, announced)
}

/// Keeps the layers whose rid the answer accepted; an answer without simulcast leaves the
/// largest layer, sent without a rid, as a browser would. False if a layer had to go.
fn keep_negotiated_rids(rtc: &mut Rtc, mid: Mid, layers: &mut Vec<Layer>) -> bool {
    let accepted = |rid: Rid| match rtc.media(mid).map(|m| m.rids_tx()) {
        Some(Rids::Any) => true,
        Some(Rids::Specific(rids)) => rids.contains(&rid),
        Some(Rids::None) | None => false,
    };
    let before = layers.len();
    let top = layers.pop();
    layers.retain(|l| l.rid.is_none_or(accepted));
    match top {
        Some(t) if t.rid.is_none_or(accepted) => layers.push(t),
        Some(mut t) if layers.is_empty() => {
            t.rid = None;
            layers.push(t);
        }
        _ => {}
    }
    layers.len() == before
}

/// Hands one frame to str0m, with its audio level and voice activity if it has them. A track
/// without a payload type or writer skips its frame: the clock still advances, so nothing
/// piles up.
fn write(
    rtc: &mut Rtc,
    (mid, rid): (Mid, Option<Rid>),
    pt: Option<Pt>,
    due: Instant,
    frame: Frame,
    level: Option<(i8, bool)>,
    data: &[u8],
) -> Result<(), RtcError> {
    let (Some(pt), Some(mut writer)) = (pt, rtc.writer(mid)) else {
        return Ok(());
    };
    if let Some(rid) = rid {
        writer = writer.rid(rid);
    }
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
