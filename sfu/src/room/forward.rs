//! The media path: every RTP packet from a publisher's up track goes, as a packet, to each
//! subscriber slot that carries its stream and wants its layer — with the header rewritten for
//! that subscriber (`rewrite.rs`), the payload shared, never depacketized. Through the
//! publisher's gates; keyframe requests go the other way, per layer, through the limiters.
//!
//! Per slot and packet: if the packet's source (incarnation and layer) is what the slot
//! forwards, it goes out. If it is the layer the subscriber should get now but the slot
//! forwards another (or nothing yet), it goes out only if it starts a keyframe, and from then
//! on that layer replaces the other; until one comes, the publisher is asked for one. Video
//! the subscriber's page does not show goes nowhere.

use std::time::{Duration, Instant};

use str0m::change::DirectApi;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc, StreamTx, Vp8Descriptor};

use super::Room;
use crate::api::{DropCause, Kind, ParticipantId, SfuEvent};
use crate::codec::pick_pt;
use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::participant::{LiveLayers, Slot, StreamKey};
use crate::rewrite::{InPacket, OutHeader, SourceId, Vp8Ids};

/// Packets of a layer the publisher was told to switch off still arrive for a round trip and
/// the encoder's next frame; after this they count as a page ignoring the request.
const PAUSED_LAYER_GRACE: Duration = Duration::from_secs(2);

/// What is read once of an incoming packet, before it fans out.
struct Incoming<'a> {
    pkt: &'a RtpPacket,
    source: SourceId,
    layer: u8,
    kind: Kind,
    params: Option<PayloadParams>,
    input: InPacket,
    vp8: Option<Vp8Descriptor>,
    keyframe: bool,
    /// Nothing in it (padding only): forwarded to nobody, numbered around (rewrite.rs).
    empty: bool,
    /// The up track's layers as they are now.
    layers: LiveLayers,
}

impl Incoming<'_> {
    /// The layer a slot should get now (`None`: none): the allocator's, or the nearest live
    /// one while that is not sending yet; before the allocator's first decision, the one the
    /// tile's height calls for. A slot lowered for its link (`Slot::cut`) takes no larger
    /// layer meanwhile: its lower layer switched on again at the publisher, the larger one it
    /// had ran on into a link that could not carry it until the lower one's first keyframe.
    fn wanted(&self, slot: &Slot) -> Option<u8> {
        if self.kind == Kind::Audio {
            return Some(0);
        }
        match slot.layer {
            Some(layer) if slot.cut => self.layers.at_most(layer?),
            Some(layer) => self.layers.nearest(layer?),
            None => self.layers.for_height(slot.height?),
        }
    }
}

impl Room {
    /// Sends one RTP packet from a publisher to every subscriber of its stream.
    pub(super) fn forward(&mut self, publisher: ParticipantId, pkt: &RtpPacket, ctx: &mut Ctx) {
        let now = pkt.timestamp;
        let Some((stream, incoming)) = self.read_incoming(publisher, pkt, now, ctx) else {
            return;
        };
        // The layers some slot waits for a keyframe of, one bit each: slots of one stream may
        // wait for different layers, and each is asked for.
        let mut want_keyframe = 0u8;
        let mut unavailable = Vec::new();
        let fanout = self
            .fanout
            .get_or_insert_with(|| build_fanout(&self.participants));
        for &(sub_id, index) in fanout.get(&stream).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(sub) = self.participants.get_mut(&sub_id) else {
                continue;
            };
            let Some(conn) = sub.down.conn.as_mut().filter(|c| c.connected) else {
                continue;
            };
            {
                let Some(slot) = sub.down.slots.get_mut(index) else {
                    continue;
                };
                let Some((mid, s)) = slot.live() else {
                    continue;
                };
                if s != stream {
                    continue;
                }
                match forward_to(conn, slot, mid, &incoming, ctx) {
                    Ok(()) => {}
                    Err(Skip::WantsLayer(layer)) => want_keyframe |= 1 << (layer & 7),
                    Err(Skip::Quietly) => {}
                    Err(Skip::Dropped(cause)) => {
                        ctx.stats.count_dropped(cause);
                        // Said once per stream and source instance, never per packet.
                        let told = &mut slot.unavailable_told;
                        if *told != Some(incoming.source.incarnation) {
                            *told = Some(incoming.source.incarnation);
                            unavailable.push((sub_id, cause));
                        }
                    }
                }
            }
        }
        let codec = incoming
            .params
            .map(|p| p.spec().codec)
            .unwrap_or(Codec::Null);
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
        for layer in (0..8).filter(|l| want_keyframe & (1 << l) != 0) {
            self.request_keyframe(stream, Some(layer), now, ctx);
        }
    }

    /// Finds the packet's up track and layer, checks the gate, feeds the speaker detection,
    /// and reads what every subscriber's copy needs.
    fn read_incoming<'a>(
        &mut self,
        publisher: ParticipantId,
        pkt: &'a RtpPacket,
        now: Instant,
        ctx: &mut Ctx,
    ) -> Option<(StreamKey, Incoming<'a>)> {
        if pkt.payload.len() > MAX_PAYLOAD {
            ctx.stats.packets_oversized += 1;
            return None;
        }
        let p = self.participants.get_mut(&publisher)?;
        let up = p.up.as_mut()?;
        let (mid, rid) = {
            let mut api = up.conn.rtc.direct_api();
            let rx = api.stream_rx(&pkt.header.ssrc)?;
            (rx.mid(), rx.rid())
        };
        let track = up.tracks.iter_mut().find(|t| t.mid == mid)?;
        let Some(layer) = track.layers.iter().position(|l| l.rid == rid) else {
            // str0m takes any rid on an m-line that did not announce simulcast and keeps a
            // receive stream for each: forget it again, so a publisher inventing rids cannot
            // grow the server's memory. (What str0m keeps per SSRC beside the streams is
            // bounded in the vendored copy: vendor/str0m/AULA.md.)
            ctx.stats.packets_unannounced += 1;
            up.conn.rtc.direct_api().remove_stream_rx(pkt.header.ssrc);
            return None;
        };
        let l = &mut track.layers[layer];
        l.last_packet = Some(now);
        match l.paused_at_source {
            // What it sent before it was switched off holds meanwhile (RateMeter::hold).
            Some(t) if now > t + PAUSED_LAYER_GRACE => ctx.stats.packets_paused_layer += 1,
            Some(_) => {}
            None => l.rate.handle_packet(pkt.payload.len()),
        }
        track.started.get_or_insert(now);
        if !p.gates.is_open(track.source) {
            ctx.stats.frames_gated += u64::from(track.kind == Kind::Audio || pkt.header.marker);
            return None;
        }
        let pt = pkt.header.payload_type;
        let params = match track.payloads.iter().find(|(p, _)| *p == pt) {
            Some((_, params)) => Some(*params),
            None => {
                let found = up.conn.rtc.codec_config().find(|c| c.pt() == pt).copied();
                if let Some(params) = found {
                    track.payloads.push((pt, params));
                }
                found
            }
        };
        let codec = params.map(|p| p.spec().codec);
        let vp8 = (codec == Some(Codec::Vp8))
            .then(|| Vp8Descriptor::parse(&pkt.payload).ok())
            .flatten();
        let keyframe = match (track.kind, codec) {
            (Kind::Audio, _) => true,
            (_, Some(Codec::Vp8)) => vp8.is_some_and(|d| d.starts_keyframe(&pkt.payload)),
            (_, Some(Codec::H264)) => starts_h264_keyframe(&pkt.payload),
            _ => false,
        };
        let empty = pkt.payload.is_empty();
        ctx.stats.packets_empty += u64::from(empty);
        if let (Kind::Audio, Some(level)) = (track.kind, pkt.header.ext_vals.audio_level) {
            self.speakers.handle_level(publisher, level, now);
        }
        let input = InPacket {
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            at: now,
            clock_rate: pkt.time.frequency().get(),
            vp8: vp8.map(|d| Vp8Ids {
                picture_id: d.picture_id().map(|id| (id, wide_picture_id(&pkt.payload))),
                tl0: d.tl0_pic_idx(),
            }),
        };
        let layers = track.live_layers(now);
        let stream = StreamKey {
            publisher,
            source: track.source,
        };
        let source = SourceId {
            incarnation: track.incarnation,
            layer: layer as u8,
        };
        let incoming = Incoming {
            pkt,
            source,
            layer: layer as u8,
            kind: track.kind,
            params,
            input,
            vp8,
            keyframe,
            empty,
            layers,
        };
        Some((stream, incoming))
    }

    pub(super) fn request_keyframe(
        &mut self,
        stream: StreamKey,
        layer: Option<u8>,
        now: Instant,
        ctx: &mut Ctx,
    ) {
        let Some(p) = self.participants.get_mut(&stream.publisher) else {
            return;
        };
        ctx.stats.keyframe_requests += p.request_keyframe(stream.source, layer, now) as u64;
    }

    /// Every subscriber's slot of `stream` forwards nothing until it starts over from a packet
    /// of the source: any for audio, a keyframe for video.
    pub(super) fn hold_stream(&mut self, stream: StreamKey) {
        for sub in self.participants.values_mut() {
            for slot in &mut sub.down.slots {
                if slot.target == Some(stream) {
                    match (slot.mid, sub.down.conn.as_mut()) {
                        (Some(mid), Some(conn)) => stop(slot, conn, mid),
                        _ => slot.rewriter.hold(),
                    }
                }
            }
        }
    }

    /// A subscriber's decoder asks for a keyframe on `mid`: the layer it gets now is asked.
    pub(super) fn handle_keyframe_request(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        mid: Mid,
        ctx: &mut Ctx,
    ) {
        let wanted = self.participants.get(&subscriber).and_then(|p| {
            let slot = p.down.slots.iter().find(|s| s.mid == Some(mid))?;
            let (_, stream) = slot.live()?;
            Some((stream, slot.rewriter.source().map(|s| s.layer)))
        });
        if let Some((stream, layer)) = wanted {
            self.request_keyframe(stream, layer, now, ctx);
        }
    }
}

/// Per stream, the slots that carry it now.
fn build_fanout(
    participants: &std::collections::BTreeMap<ParticipantId, crate::participant::Participant>,
) -> rustc_hash::FxHashMap<StreamKey, Vec<(ParticipantId, usize)>> {
    let mut fanout: rustc_hash::FxHashMap<StreamKey, Vec<(ParticipantId, usize)>> =
        Default::default();
    for (&id, p) in participants {
        for (i, slot) in p.down.slots.iter().enumerate() {
            if let Some((_, stream)) = slot.live() {
                fanout.entry(stream).or_default().push((id, i));
            }
        }
    }
    fanout
}

/// Why a packet did not go to one slot.
enum Skip {
    /// Not for this subscriber now (another layer, a hidden tile, from before a switch).
    Quietly,
    /// The subscriber should get this layer and waits for a keyframe of it.
    WantsLayer(u8),
    /// It should have gone and could not.
    Dropped(DropCause),
}

/// Decides whether the packet goes to this slot, rewrites its header, and writes it.
fn forward_to(
    conn: &mut Conn,
    slot: &mut Slot,
    mid: Mid,
    incoming: &Incoming,
    ctx: &mut Ctx,
) -> Result<(), Skip> {
    let current = slot.rewriter.source();
    // Padding only: to nobody; the slot's current source numbers around it.
    if incoming.empty
        && (current != Some(incoming.source)
            || slot.rewriter.skip(incoming.source, &incoming.input))
    {
        return Err(Skip::Quietly);
    }
    let wanted = incoming.wanted(slot);
    if current != Some(incoming.source) {
        if wanted != Some(incoming.layer) {
            return Err(Skip::Quietly);
        }
        if !incoming.keyframe {
            ctx.stats.frames_waiting_keyframe += u64::from(incoming.pkt.header.marker);
            return Err(Skip::WantsLayer(incoming.layer));
        }
        // A switch down for a link that is losing packets (the lower keyframe came before the
        // old layer's frame ended, so there was no cut): as with a cut.
        drop_if_cut(conn, slot, mid, incoming.input.at, ctx);
        slot.rewriter.switch(incoming.source, &incoming.input);
        slot.cut = false;
    } else if wanted.is_none() {
        // The tile went away (or the allocator paused it): stop at once, and if paused for a
        // link that is losing packets, drop what still waits as with a cut. Lowered for the
        // link to a layer not sending yet, it stays cut: no larger layer starts again
        // meanwhile (`Incoming::wanted`).
        stop(slot, conn, mid);
        drop_if_cut(conn, slot, mid, incoming.input.at, ctx);
        slot.cut &= matches!(slot.layer, Some(Some(_)));
        return Err(Skip::Quietly);
    }
    let Some(out) = slot.rewriter.map(incoming.source, &incoming.input) else {
        return Err(Skip::Quietly);
    };
    let pt = out_pt(conn, slot, mid, incoming)?;
    write(conn, &mut slot.tx_ssrc, mid, pt, &out, incoming)?;
    ctx.stats.packets_forwarded += 1;
    let frame_end = incoming.kind == Kind::Audio || incoming.pkt.header.marker;
    ctx.stats.frames_forwarded += u64::from(frame_end);
    if let Some(w) = wanted.filter(|w| *w != incoming.layer) {
        // Lowered because the link cannot carry this layer, and the link is losing packets:
        // nothing more of it after this frame, and nothing of what still waits in the pacer's
        // queue (paced out at the old estimate's rate, it kept the link over its new
        // capacity for seconds). What went out stays in the NACK history; the lower layer
        // starts at its keyframe, numbered on from here.
        if slot.cut && frame_end && w < incoming.layer && losing(conn, incoming.input.at) {
            slot.rewriter.hold();
            drop_if_cut(conn, slot, mid, incoming.input.at, ctx);
            slot.cut = false;
            ctx.stats.layers_cut += 1;
        }
        // Forwarding one layer, wanting another: ask for a keyframe of that one.
        return Err(Skip::WantsLayer(w));
    }
    Ok(())
}

/// The largest RTP payload forwarded, in bytes. Browsers keep their packets near 1,200 bytes;
/// str0m builds each packet it sends in a 2,000-byte buffer, header and extensions first (and
/// an RTX resend's two bytes), and slices the payload in after them: a publisher's packet with
/// some 1,950 bytes of payload (any client holding its keys can send one in a 2,048-byte
/// datagram) panicked the worker, and with it every room on it. Dropped and counted instead.
pub(crate) const MAX_PAYLOAD: usize = 1_500;

/// A layer lowered for the subscriber's link is cut at a frame's end only while that link
/// loses at least this share of what was sent in the last [`CUT_LOSS_WINDOW`] (as far as
/// transport-wide feedback has told): a link that overflows its queue. An estimate that dips
/// on a busy server loses nothing, and a cut there froze the tile until the lower layer's
/// keyframe for nothing (the lecture's only video loss on loopback): there the layer runs on
/// to the switch. (Transport-wide feedback, not the receiver reports behind
/// `Down::link_loss`: those come once a second.)
const CUT_LOSS: f32 = 0.02;
const CUT_LOSS_WINDOW: Duration = Duration::from_secs(1);

/// Nothing reported on in the window counts as losing: on a connection with an estimate
/// (the only kind whose layers are cut) that is feedback a second late or not coming at all.
fn losing(conn: &mut Conn, now: Instant) -> bool {
    (conn.rtc.bwe().egress_loss(CUT_LOSS_WINDOW, now)).is_none_or(|l| l >= CUT_LOSS)
}

/// A layer lowered or paused for its subscriber's own link (`Slot::cut`), after the path's
/// first seconds (`Slot::drop_queue`), on a link that is losing packets: what of it still waits
/// in str0m's pacer queue is dropped.
fn drop_if_cut(conn: &mut Conn, slot: &mut Slot, mid: Mid, now: Instant, ctx: &mut Ctx) {
    if slot.cut && slot.drop_queue && losing(conn, now) {
        ctx.stats.cut_packets_dropped += drop_queued(conn, slot, mid);
    }
}

/// Drops what of a held slot's packets waits in str0m's pacer queue; returns how many. The
/// slot numbers on from the last packet that went out when the dropped ones were the last
/// it wrote (always, but for a late packet among them): a gap would read as loss in the
/// subscriber's receiver reports, which lower its budget (`Down::link_loss`), and draw NACKs
/// nothing can answer.
fn drop_queued(conn: &mut Conn, slot: &mut Slot, mid: Mid) -> u64 {
    let mut api = conn.rtc.direct_api();
    let Some(tx) = send_stream(&mut api, &mut slot.tx_ssrc, mid) else {
        return 0;
    };
    let (dropped, seqs) = tx.drop_queued();
    if let Some((first, last)) = seqs
        && *last - *first + 1 == dropped as u64
    {
        slot.rewriter.unsend(*first, *last);
    }
    conn.dirty = true;
    dropped as u64
}

/// The slot stops forwarding: coming back waits for a keyframe, so what was kept of its
/// packets for NACKs is no use any more (super::subscribe::forget_sent).
fn stop(slot: &mut Slot, conn: &mut Conn, mid: Mid) {
    slot.rewriter.hold();
    super::subscribe::forget_sent(conn, mid, slot.kind);
}

/// The subscriber's payload type for the packet's, cached per slot.
fn out_pt(conn: &Conn, slot: &mut Slot, mid: Mid, incoming: &Incoming) -> Result<Pt, Skip> {
    let in_pt = incoming.pkt.header.payload_type;
    if let Some((i, o)) = slot.pt
        && i == in_pt
    {
        return Ok(o);
    }
    let params = incoming.params.ok_or(Skip::Dropped(DropCause::Codec))?;
    let media = conn
        .rtc
        .media(mid)
        .ok_or(Skip::Dropped(DropCause::NotSending))?;
    let accepted = conn.rtc.codec_config().params().iter();
    let accepted = accepted.filter(|p| media.remote_pts().contains(&p.pt()));
    let out = pick_pt(accepted, &params).ok_or(Skip::Dropped(DropCause::Codec))?;
    slot.pt = Some((in_pt, out));
    Ok(out)
}

/// Hands one rewritten packet to str0m, which encrypts, paces, and keeps it for NACKs.
fn write(
    conn: &mut Conn,
    tx_ssrc: &mut Option<Ssrc>,
    mid: Mid,
    pt: Pt,
    out: &OutHeader,
    incoming: &Incoming,
) -> Result<(), Skip> {
    let pkt = incoming.pkt;
    let ext = ExtensionValues {
        audio_level: pkt.header.ext_vals.audio_level,
        voice_activity: pkt.header.ext_vals.voice_activity,
        video_orientation: pkt.header.ext_vals.video_orientation,
        ..Default::default()
    };
    let mut write = RtpWrite::new(
        pt,
        out.seq.into(),
        out.ts,
        pkt.timestamp,
        pkt.payload.clone(),
    )
    .marker(pkt.header.marker)
    .ext_vals(ext)
    .nackable(incoming.kind == Kind::Video);
    if let Some(d) = &incoming.vp8 {
        let mut patch = d.patch();
        if let Some(id) = out.picture_id {
            patch = patch.picture_id(id);
        }
        if let Some(tl0) = out.tl0 {
            patch = patch.tl0_pic_idx(tl0);
        }
        if let Ok(patch) = patch.build() {
            write = write.vp8_patch(patch);
        }
    }
    let mut api = conn.rtc.direct_api();
    let tx = send_stream(&mut api, tx_ssrc, mid).ok_or(Skip::Dropped(DropCause::NotSending))?;
    tx.write_rtp(write);
    conn.written = true;
    Ok(())
}

/// The send stream on `mid`, found by the SSRC remembered in `tx_ssrc` (a hash lookup), else
/// by its mid, which str0m finds by walking all of the connection's send streams: 38 in a
/// meeting of 20, for every packet forwarded.
fn send_stream<'a>(
    api: &'a mut DirectApi<'_>,
    tx_ssrc: &mut Option<Ssrc>,
    mid: Mid,
) -> Option<&'a mut StreamTx> {
    let known = tx_ssrc.filter(|ssrc| api.stream_tx(ssrc).is_some_and(|tx| tx.mid() == mid));
    let tx = match known {
        Some(ssrc) => api.stream_tx(&ssrc),
        None => api.stream_tx_by_mid(mid, None),
    }?;
    *tx_ssrc = Some(tx.ssrc());
    Some(tx)
}

/// Whether an H.264 packet may start a keyframe for a subscriber: one that carries the
/// sequence parameter set (its own NAL unit, or in a STAP-A with the picture parameter set, as
/// libwebrtc and Safari send it ahead of an IDR), or the IDR's first packet, for an encoder
/// that sends no parameter sets with it. Started at the IDR alone, a subscriber new to the
/// stream had no parameter sets and its decoder dropped the keyframe and asked for another;
/// one switched to another layer decoded the new layer's IDR with the old layer's set.
fn starts_h264_keyframe(payload: &[u8]) -> bool {
    const SPS: u8 = 7;
    str0m::format::detect_h264_nalu(payload, SPS) || str0m::format::detect_h264_keyframe(payload)
}

/// Whether a VP8 payload descriptor's picture id is 15 bits (its M bit), which the rewritten
/// one keeps.
fn wide_picture_id(payload: &[u8]) -> bool {
    let extended = payload.first().is_some_and(|b| b & 0x80 != 0);
    let has_picture_id = payload.get(1).is_some_and(|b| b & 0x80 != 0);
    extended && has_picture_id && payload.get(2).is_some_and(|b| b & 0x80 != 0)
}
