//! The media path: every frame from a publisher's up track goes to each subscriber slot that
//! carries its stream, through the publisher's gates; keyframe requests go the other way,
//! through the per-track limiter.

use std::time::Instant;

use str0m::media::{MediaData, MediaTime, Mid};

use super::Room;
use crate::api::{DropCause, Kind, ParticipantId, SfuEvent};
use crate::clock::TimestampMapper;
use crate::codec::pick_pt;
use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::participant::StreamKey;

impl Room {
    /// Sends one frame from a publisher to every subscriber of its stream.
    pub(super) fn forward(&mut self, publisher: ParticipantId, data: MediaData, ctx: &mut Ctx) {
        let Some(p) = self.participants.get(&publisher) else {
            return;
        };
        let Some(track) =
            p.up.as_ref()
                .and_then(|u| u.tracks.iter().find(|t| t.mid == data.mid))
        else {
            return;
        };
        if !p.gates.is_open(track.source) {
            ctx.stats.frames_gated += 1;
            return;
        }
        if let (Kind::Audio, Some(level)) = (track.kind, data.ext_vals.audio_level) {
            self.speakers
                .handle_level(publisher, level, data.network_time);
        }
        let stream = StreamKey {
            publisher,
            source: track.source,
        };
        let (kind, incarnation) = (track.kind, track.incarnation);
        let mut want_keyframe = kind == Kind::Video && !data.contiguous;
        let mut unavailable = Vec::new();
        for (&sub_id, sub) in self
            .participants
            .range_mut(..)
            .filter(|(id, _)| **id != publisher)
        {
            let Some(conn) = sub.down.conn.as_mut().filter(|c| c.connected) else {
                continue;
            };
            for slot in &mut sub.down.slots {
                let Some((mid, s)) = slot.live() else {
                    continue;
                };
                if s != stream {
                    continue;
                }
                if slot.need_keyframe {
                    if !data.is_keyframe() {
                        ctx.stats.frames_waiting_keyframe += 1;
                        want_keyframe = true;
                        continue;
                    }
                    slot.need_keyframe = false;
                }
                match write_frame(conn, mid, &mut slot.clock, &data, incarnation) {
                    Ok(()) => ctx.stats.frames_forwarded += 1,
                    Err(cause) => {
                        ctx.stats.count_dropped(cause);
                        // Said once per stream and source instance, never per frame.
                        if slot.unavailable_told != Some(incarnation) {
                            slot.unavailable_told = Some(incarnation);
                            unavailable.push((sub_id, cause));
                        }
                    }
                }
            }
        }
        let codec = data.params.spec().codec;
        for (sub, cause) in unavailable {
            tracing::warn!(room = %self.id, subscriber = %sub, %publisher, source = stream.source.as_str(),
                ?codec, cause = cause.as_str(), "a stream cannot be forwarded to a subscriber");
            let event = SfuEvent::StreamUnavailable {
                publisher,
                source: stream.source,
                reason: cause,
                codec: codec.to_string(),
            };
            self.emit(sub, event, ctx);
        }
        if want_keyframe {
            self.request_keyframe(stream, data.network_time, ctx);
        }
    }

    pub(super) fn request_keyframe(&mut self, stream: StreamKey, now: Instant, ctx: &mut Ctx) {
        let Some(p) = self.participants.get_mut(&stream.publisher) else {
            return;
        };
        if p.request_keyframe(stream.source, now) {
            ctx.stats.keyframe_requests += 1;
        }
    }

    /// Every subscriber of `stream` waits for its next keyframe (its gate reopened: the frames
    /// a delta frame refers to never arrived).
    pub(super) fn await_keyframe(&mut self, stream: StreamKey) {
        for sub in self.participants.values_mut() {
            for slot in &mut sub.down.slots {
                if slot.kind == Kind::Video && slot.target == Some(stream) {
                    slot.need_keyframe = true;
                }
            }
        }
    }

    /// A subscriber's decoder asks for a keyframe on `mid`.
    pub(super) fn handle_keyframe_request(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        mid: Mid,
        ctx: &mut Ctx,
    ) {
        let stream = self.participants.get(&subscriber).and_then(|p| {
            let slot = p.down.slots.iter().find(|s| s.mid == Some(mid))?;
            slot.live().map(|(_, stream)| stream)
        });
        if let Some(stream) = stream {
            self.request_keyframe(stream, now, ctx);
        }
    }
}

/// Writes one frame to a down slot, or says why it could not.
fn write_frame(
    conn: &mut Conn,
    mid: Mid,
    clock: &mut TimestampMapper,
    data: &MediaData,
    incarnation: u64,
) -> Result<(), DropCause> {
    let Some(mut writer) = conn.rtc.writer(mid) else {
        return Err(DropCause::NotSending);
    };
    let Some(pt) = pick_pt(writer.payload_params(), &data.params) else {
        return Err(DropCause::Codec);
    };
    // Passed on, so that browsers show levels in getSynchronizationSources().
    if let Some(level) = data.ext_vals.audio_level {
        let voice = data.ext_vals.voice_activity.unwrap_or(false);
        writer = writer.audio_level(level, voice);
    }
    let clock_rate = data.time.frequency();
    let time = clock.map(
        data.time.numer(),
        clock_rate.get(),
        data.network_time,
        incarnation,
    );
    let rtp_time = MediaTime::new(time, clock_rate);
    let written = writer.write(pt, data.network_time, rtp_time, data.data.clone());
    conn.dirty = true;
    written.map_err(|e| {
        tracing::trace!(error = %e, "write failed");
        DropCause::WriteFailed
    })
}
