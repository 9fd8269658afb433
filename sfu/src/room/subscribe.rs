//! Subscribe connections: which m-line carries which stream, and the offers that tell the
//! client.
//!
//! Each m-line is a [`Slot`]. JSEP's rule (RFC 8829 §5.2.2) is kept strictly: a slot is never
//! removed or moved while its connection lives. When its stream ends the slot is made
//! `inactive` (never stopped: Chrome tears down the BUNDLE transport with a stopped first
//! m-line, which is how the teacher's leaving once broke everyone's video), and once that is
//! answered it carries the next stream of its kind. A renegotiation that fails, on either
//! side, rebuilds the connection and tells the client to do the same (`reset`): a subscriber
//! loses a second of video instead of the lesson.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::media::{Direction as SdpDirection, Mid};

use super::Room;
use crate::api::{Direction, DownTrackInfo, Kind, ParticipantId, SfuError, SfuEvent, Tile};
use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::participant::{Down, OfferSent, Participant, Slot, StreamKey, media_kind};

impl Room {
    /// Makes every participant's slots match the streams the others publish, and offers the
    /// difference to each subscriber that has no offer outstanding.
    pub(super) fn reconcile(&mut self, now: Instant, ctx: &mut Ctx) {
        let streams: Vec<(StreamKey, Kind)> = self
            .participants
            .values()
            .flat_map(|p| {
                let tracks = p.up.iter().flat_map(|u| u.tracks.iter());
                tracks.map(move |t| {
                    let key = StreamKey {
                        publisher: p.id,
                        source: t.source,
                    };
                    (key, t.kind)
                })
            })
            .collect();
        let ids: Vec<ParticipantId> = self.participants.keys().copied().collect();
        for id in ids {
            let sub = self.participants.get_mut(&id).expect("id from keys");
            let wanted = streams.iter().filter(|(s, _)| s.publisher != id);
            plan_slots(&mut sub.down.slots, wanted);
            for i in 0..sub.down.slots.len() {
                let target = sub.down.slots[i].target;
                sub.down.slots[i].height = target.and_then(|s| sub.shown_height(s));
            }
            if sub.down.pending.is_none() {
                self.offer(now, id, ctx);
            }
        }
    }

    /// Offers what changed on a subscriber's connection (creating it with the first offer), if
    /// anything did.
    fn offer(&mut self, now: Instant, id: ParticipantId, ctx: &mut Ctx) {
        let key = self.conn_key(id, Direction::Subscribe);
        let room = self.id.clone();
        let sub = self.participants.get_mut(&id).expect("caller checked");
        let down = &mut sub.down;
        let changed = down.slots.iter().any(Slot::needs_offer);
        if !changed && !down.ice_restart {
            return;
        }
        if down.conn.is_none() && !down.slots.iter().any(|s| s.target.is_some()) {
            return; // nothing to receive yet: no connection
        }
        let conn = down.conn.get_or_insert_with(|| Conn::new(now, key, ctx));
        let mut change = conn.rtc.sdp_api();
        let restart = std::mem::take(&mut down.ice_restart).then(|| change.ice_restart(true));
        let slots = down.slots.iter_mut().enumerate();
        for (index, slot) in slots.filter(|(_, s)| s.needs_offer()) {
            match (slot.mid, slot.target) {
                (None, Some(stream)) => {
                    let stream_id = stream.publisher.to_string();
                    // The slot's index makes each m-line's `a=msid` its own: a stream that
                    // ends and is back before the subscriber answered the offer ending it gets
                    // a new m-line next to its old one, and Chromium refuses an offer in which
                    // two m-lines share an msid. (A slot keeps its index: slots with an m-line
                    // are never removed, and a reset starts a new connection.)
                    let source = stream.source.as_str();
                    let track_id = format!("{stream_id}-{source}-{index}");
                    let mid = change.add_media(
                        media_kind(slot.kind),
                        SdpDirection::SendOnly,
                        Some(stream_id),
                        Some(track_id),
                        None,
                    );
                    slot.mid = Some(mid);
                }
                (Some(mid), target) => {
                    let dir = match target {
                        Some(_) => SdpDirection::SendOnly,
                        None => SdpDirection::Inactive,
                    };
                    change.set_direction(mid, dir);
                }
                (None, None) => unreachable!("plan_slots drops slots that were never offered"),
            }
            slot.offered = Some(slot.target);
        }
        let Some((offer, pending)) = change.apply() else {
            // Nothing str0m needs to negotiate after all (a slot went inactive and back).
            for slot in &mut down.slots {
                if let Some(offered) = slot.offered.take() {
                    slot.negotiated = offered;
                }
            }
            return;
        };
        conn.dirty = true;
        if let Some(creds) = restart {
            conn.add_ufrag(creds.ufrag, ctx);
            ctx.stats.ice_restarts += 1;
            tracing::info!(%id, "subscribe connection: ICE restart");
        }
        down.pending = Some(pending);
        let sent = OfferSent {
            sdp: offer.to_sdp_string(),
            tracks: announced_tracks(&down.slots),
            reset: std::mem::take(&mut down.reset),
        };
        down.offered = Some(sent.clone());
        tracing::debug!(%room, %id, m_lines = down.slots.len(), reset = sent.reset, "subscribe offer");
        let event = SfuEvent::SubscribeOffer {
            sdp: sent.sdp,
            tracks: sent.tracks,
            reset: sent.reset,
        };
        self.emit(id, event, ctx);
    }

    pub(super) fn handle_subscribe_answer(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        answer: &str,
        ctx: &mut Ctx,
    ) -> Result<(), SfuError> {
        let p = self
            .participants
            .get_mut(&participant)
            .ok_or(SfuError::UnknownParticipant)?;
        let (Some(conn), Some(_)) = (&mut p.down.conn, &p.down.pending) else {
            return Err(SfuError::UnexpectedAnswer);
        };
        let pending = p.down.pending.take().expect("checked above");
        p.down.offered = None;
        let accepted = SdpAnswer::from_sdp_string(answer)
            .map_err(|e| e.to_string())
            .and_then(|a| {
                let api = conn.rtc.sdp_api();
                api.accept_answer(pending, a).map_err(|e| e.to_string())
            });
        if let Err(why) = accepted {
            ctx.stats.renegotiations_failed += 1;
            tracing::warn!(room = %self.id, %participant, reason = %why, "subscribe answer not applicable; rebuilding the connection");
            reset(p, ctx);
            self.streams_changed = true;
            return Err(SfuError::BadSdp(why));
        }
        conn.dirty = true;
        let connected = conn.connected;
        let mut opened = Vec::new();
        for slot in &mut p.down.slots {
            let Some(offered) = slot.offered.take() else {
                continue;
            };
            if offered.is_some() && offered != slot.negotiated {
                // A new stream on this m-line: the rewriter takes it from a keyframe (its
                // source differs from whatever the slot carried before).
                slot.rewriter.hold();
                slot.pt = None;
                opened.extend(offered.map(|s| (s, slot.height)));
                // Video stays paced (str0m's default), though a paced queue keeps a link over
                // a new capacity for seconds after a drop: unpaced, str0m's probes and padding
                // go out in bursts on such a stream, their measurement is worthless, and an
                // estimate that fell never climbs again (seen in
                // sfu/tests/connection-health.rs: a student back from an outage stayed paused
                // for everyone).
            }
            if offered != slot.negotiated
                && let Some(mid) = slot.mid
            {
                // A new stream, or none: nothing sent before is asked for again.
                forget_sent(conn, mid, slot.kind);
            }
            slot.negotiated = offered;
        }
        // Changes that arrived while the offer was out go in the next one.
        self.streams_changed = true;
        if connected {
            for (stream, height) in opened {
                self.request_wanted_keyframe(stream, height, now, ctx);
            }
        }
        Ok(())
    }

    /// The client could not apply the latest offer.
    pub(super) fn handle_subscribe_failed(&mut self, participant: ParticipantId, ctx: &mut Ctx) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        if p.down.conn.is_none() {
            return;
        }
        ctx.stats.renegotiations_failed += 1;
        tracing::warn!(room = %self.id, %participant, "client could not apply a subscribe offer; rebuilding the connection");
        reset(p, ctx);
        self.streams_changed = true;
    }

    pub(super) fn handle_ice_restart(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        ctx: &mut Ctx,
    ) -> Result<(), SfuError> {
        let p = self
            .participants
            .get_mut(&participant)
            .ok_or(SfuError::UnknownParticipant)?;
        if p.down.conn.is_none() {
            return Ok(()); // nothing to restart; the first offer brings fresh credentials
        }
        if !p.down.restarts.try_take(now) {
            ctx.stats.ice_restarts_limited += 1;
            return Err(SfuError::RateLimited);
        }
        p.down.ice_restart = true;
        // A new path (Wi-Fi to LTE, a new NAT binding).
        p.down.fresh_path(ctx.config.adaptation);
        if p.down.pending.is_none() {
            self.offer(now, participant, ctx);
        }
        Ok(())
    }

    /// The subscriber's connection is up: every stream it receives needs a keyframe now.
    pub(super) fn handle_subscriber_connected(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        ctx: &mut Ctx,
    ) {
        let streams: Vec<(StreamKey, Option<u32>)> = self.participants[&participant]
            .down
            .slots
            .iter()
            .filter(|s| s.kind == Kind::Video)
            .filter_map(|s| s.live().map(|(_, stream)| (stream, s.height)))
            .collect();
        for (stream, height) in streams {
            self.request_wanted_keyframe(stream, height, now, ctx);
        }
    }

    /// Asks for a keyframe of the layer a page showing `stream` `height` lines high gets.
    fn request_wanted_keyframe(
        &mut self,
        stream: StreamKey,
        height: Option<u32>,
        now: Instant,
        ctx: &mut Ctx,
    ) {
        let Some(height) = height else {
            return; // not shown: nothing to ask for
        };
        let layer = self.participants.get(&stream.publisher).and_then(|p| {
            let up = p.up.as_ref()?;
            let track = up.tracks.iter().find(|t| t.source == stream.source)?;
            Some(track.layer_for(height, now).unwrap_or(0))
        });
        if let Some(layer) = layer {
            self.request_keyframe(stream, Some(layer), now, ctx);
        }
    }

    /// A subscriber's page shows other videos, or shows them at other sizes.
    pub(super) fn handle_view(&mut self, participant: ParticipantId, tiles: &[Tile]) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        let view: HashMap<StreamKey, u32> = tiles
            .iter()
            .take(MAX_TILES)
            .map(|t| {
                let stream = StreamKey {
                    publisher: t.publisher,
                    source: t.source,
                };
                (stream, t.height.clamp(1, MAX_TILE_SIDE))
            })
            .collect();
        p.view = Some(view);
        for i in 0..p.down.slots.len() {
            let target = p.down.slots[i].target;
            let height = target.and_then(|s| p.shown_height(s));
            p.down.slots[i].height = height;
        }
    }
}

/// Empties what str0m keeps of the packets sent on `mid` (a new, empty history), for a slot
/// that stopped sending or starts a new stream: it is never asked for again, and a stopped
/// slot's history is otherwise kept for good (str0m drops old packets only as new ones come).
/// A video slot keeps the connection's [`nack_history`] of its packets to answer NACKs; an
/// audio one nothing (the browsers negotiate no NACK for Opus, and its packets are written not
/// nackable), nor the sent/resent byte histories str0m would keep to cap resends.
pub(super) fn forget_sent(conn: &mut Conn, mid: Mid, kind: Kind) {
    let history = conn.nack_history;
    let mut api = conn.rtc.direct_api();
    let Some(tx) = api.stream_tx_by_mid(mid, None) else {
        return;
    };
    match kind {
        Kind::Video => tx.set_rtx_cache(RTX_PACKETS, history, Some(0.15)),
        Kind::Audio => tx.set_rtx_cache(1, Duration::ZERO, None),
    }
}

/// How long a subscriber's video packets are kept to answer its NACKs, for a link of this
/// round trip. A browser asks for a lost packet about one round trip after it was sent and,
/// not given it, again a round trip later; two round trips and 200 ms of slack cover both.
/// At least [`NACK_HISTORY_MIN`] (a round trip measured low on a link that then queues), at
/// most [`NACK_HISTORY_MAX`] (a packet later than that is no use to a decoder that has asked
/// for a keyframe meanwhile). Janus does alike: the round trip and 100 ms, between 200 ms
/// (its `min_nack_queue`) and 1 s. A history is a whole str0m packet of about 430 bytes
/// besides its payload per packet sent: a second of the teacher's 720p layer is some 60 KB
/// per student, where a school's LAN needs a third of it.
pub(crate) fn nack_history(rtt: Duration) -> Duration {
    (rtt * 2 + Duration::from_millis(200)).clamp(NACK_HISTORY_MIN, NACK_HISTORY_MAX)
}

/// The shortest NACK history (see [`nack_history`]).
pub(crate) const NACK_HISTORY_MIN: Duration = Duration::from_millis(300);
/// The longest, and a connection's until its first round trip is measured: str0m's default
/// of 3 s kept some 170 KB per video stream of every subscriber (measured with valgrind
/// massif, a lecture of 100).
pub(crate) const NACK_HISTORY_MAX: Duration = Duration::from_secs(1);
/// And at most this many packets: a second of a 720p layer at 1.5 Mbit/s is about 160.
const RTX_PACKETS: usize = 400;

/// A subscriber's round trip was measured: its video streams keep the history that round
/// trip calls for ([`nack_history`]), keeping what they hold. Changes under a quarter are let
/// be, so a jittery round trip does not resize histories every second.
pub(super) fn fit_nack_history(down: &mut Down, rtt: Duration, now: Instant) {
    let Some(conn) = down.conn.as_mut() else {
        return;
    };
    let history = nack_history(rtt);
    let old = conn.nack_history;
    if history.abs_diff(old) * 4 < old {
        return;
    }
    conn.nack_history = history;
    let mut api = conn.rtc.direct_api();
    for slot in down.slots.iter().filter(|s| s.kind == Kind::Video) {
        if let Some(tx) = slot.mid.and_then(|mid| api.stream_tx_by_mid(mid, None)) {
            tx.set_rtx_max_age(history, now);
        }
    }
}

/// Tiles a `view` may list (protocol.md): far more than a page shows; the rest is ignored.
pub const MAX_TILES: usize = 200;
/// The largest tile side taken (protocol.md): 8K.
pub const MAX_TILE_SIDE: u32 = 8192;

/// Drops a subscriber's connection and all its slots: the next offer builds a new connection
/// with every stream on it and says `reset`.
pub(super) fn reset(p: &mut Participant, ctx: &mut Ctx) {
    if let Some(conn) = p.down.conn.take() {
        conn.unroute(ctx);
    }
    let restarts = std::mem::replace(&mut p.down.restarts, Down::default().restarts);
    p.down = Down {
        reset: true,
        restarts,
        ..Down::default()
    };
}

/// What the client should map each m-line to once the outstanding offer is applied.
fn announced_tracks(slots: &[Slot]) -> Vec<DownTrackInfo> {
    slots
        .iter()
        .filter_map(|s| {
            let (mid, stream) = (s.mid?, s.announced()?);
            Some(DownTrackInfo {
                mid: mid.to_string(),
                participant: stream.publisher,
                kind: s.kind,
                source: stream.source,
            })
        })
        .collect()
}

/// Brings a subscriber's slots in line with the streams it should receive: unbinds slots whose
/// stream is gone, binds new streams to free slots of their kind, and adds slots only when
/// none is free. It sorts the streams wanted and searches them; a lecture of 200 runs this
/// for every subscriber on every join.
fn plan_slots<'a>(slots: &mut Vec<Slot>, wanted: impl Iterator<Item = &'a (StreamKey, Kind)>) {
    // Sorted vectors, not hash sets: every join plans every participant's slots again, so a
    // lecture's joins cost the square of its size, and two hash sets per plan were 8 % of the
    // simulated lecture's room (docs/benchmarks.md, "M-lines planned without hash sets").
    let mut wanted: Vec<(StreamKey, Kind)> = wanted.copied().collect();
    wanted.sort_unstable();
    wanted.dedup();
    for slot in slots.iter_mut() {
        if let Some(s) = slot.target
            && wanted.binary_search(&(s, slot.kind)).is_err()
        {
            slot.target = None;
        }
    }
    // A slot that was never offered holds no m-line yet: it simply goes.
    slots.retain(|s| s.mid.is_some() || s.target.is_some());
    let mut have: Vec<StreamKey> = slots.iter().filter_map(|s| s.target).collect();
    have.sort_unstable();
    // In order, so m-lines are offered in the same order on every run.
    let missing = wanted
        .iter()
        .filter(|(s, _)| have.binary_search(s).is_err());
    for &(stream, kind) in missing {
        match slots.iter_mut().find(|s| s.kind == kind && s.is_free()) {
            Some(slot) => slot.retarget(stream),
            None => slots.push(Slot::new(kind, stream)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Source;
    use str0m::media::Mid;

    fn key(p: u32, source: Source) -> StreamKey {
        StreamKey {
            publisher: ParticipantId(p),
            source,
        }
    }

    #[test]
    fn the_nack_history_follows_the_round_trip_within_its_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(nack_history(ms(1)), NACK_HISTORY_MIN);
        assert_eq!(nack_history(ms(100)), ms(400));
        assert_eq!(nack_history(ms(300)), ms(800));
        assert_eq!(nack_history(ms(2_000)), NACK_HISTORY_MAX);
    }

    /// What answering an offer does to the slots.
    fn answer(slots: &mut [Slot]) {
        for (i, s) in slots.iter_mut().enumerate() {
            if s.needs_offer() {
                s.mid.get_or_insert(Mid::from(i.to_string().as_str()));
                s.offered = Some(s.target);
            }
            if let Some(o) = s.offered.take() {
                s.negotiated = o;
            }
        }
    }

    #[test]
    fn new_streams_get_slots_in_a_stable_order() {
        let mut slots = Vec::new();
        let wanted = [
            (key(1, Source::Camera), Kind::Video),
            (key(1, Source::Microphone), Kind::Audio),
        ];
        plan_slots(&mut slots, wanted.iter());
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].target, Some(key(1, Source::Microphone)));
        assert!(slots[1].kind == Kind::Video && slots[0].kind == Kind::Audio);
    }

    #[test]
    fn a_leaver_s_slots_go_inactive_and_are_reused_not_removed() {
        let mut slots = Vec::new();
        let teacher = [
            (key(0, Source::Microphone), Kind::Audio),
            (key(0, Source::Camera), Kind::Video),
        ];
        let student = [
            (key(2, Source::Microphone), Kind::Audio),
            (key(2, Source::Camera), Kind::Video),
        ];
        let both: Vec<_> = teacher.iter().chain(&student).copied().collect();
        plan_slots(&mut slots, both.iter());
        answer(&mut slots);
        let mids: Vec<Option<Mid>> = slots.iter().map(|s| s.mid).collect();

        // What the allocator and the forwarder knew of her camera's slot.
        let t0 = Instant::now();
        let camera = &mut slots[1];
        (camera.layer, camera.paused, camera.lowered_at) = (Some(Some(2)), true, Some(t0));
        (camera.resumed_at, camera.cut, camera.drop_queue) = (Some(t0), true, true);
        camera.pt = Some((96.into(), 100.into()));

        // The teacher (the first m-lines) leaves: her slots stay, inactive.
        plan_slots(&mut slots, student.iter());
        assert_eq!(slots.len(), 4);
        assert_eq!(slots.iter().map(|s| s.mid).collect::<Vec<_>>(), mids);
        assert!(slots[0].target.is_none() && slots[0].needs_offer());
        assert!(
            !slots[0].is_free(),
            "free only once the inactive offer is answered"
        );
        answer(&mut slots);
        assert!(slots[0].is_free() && slots[1].is_free());

        // She comes back (a new participant id): her streams reuse the two free m-lines.
        let back = [
            (key(5, Source::Microphone), Kind::Audio),
            (key(5, Source::Camera), Kind::Video),
        ];
        let all: Vec<_> = back.iter().chain(&student).copied().collect();
        plan_slots(&mut slots, all.iter());
        assert_eq!(slots.len(), 4, "no new m-line");
        assert_eq!(slots[0].target, Some(key(5, Source::Microphone)));
        assert_eq!(slots[1].target, Some(key(5, Source::Camera)));
        // Nothing of the last stream's decisions carries over to the new one.
        let camera = &slots[1];
        assert_eq!(
            (camera.mid, camera.layer, camera.paused),
            (mids[1], None, false)
        );
        assert_eq!((camera.lowered_at, camera.resumed_at), (None, None));
        assert!(!camera.cut && !camera.drop_queue && camera.pt.is_none());
    }

    #[test]
    fn a_slot_is_reused_only_for_its_own_kind() {
        let mut slots = Vec::new();
        let audio = [(key(1, Source::Microphone), Kind::Audio)];
        plan_slots(&mut slots, audio.iter());
        answer(&mut slots);
        plan_slots(&mut slots, [].iter());
        answer(&mut slots);
        let video = [(key(2, Source::Screen), Kind::Video)];
        plan_slots(&mut slots, video.iter());
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[1].target, Some(key(2, Source::Screen)));
    }

    #[test]
    fn a_stream_that_ends_before_its_offer_leaves_no_m_line() {
        let mut slots = Vec::new();
        let wanted = [(key(3, Source::Camera), Kind::Video)];
        plan_slots(&mut slots, wanted.iter());
        plan_slots(&mut slots, [].iter());
        assert!(slots.is_empty());
    }
}
