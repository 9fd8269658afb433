//! Publish offers. The first one from a peer connection (a DTLS fingerprint the SFU has not
//! seen for this participant) starts a new publish connection, which replaces an old one while
//! subscribers keep their streams. A later one from the same peer connection renegotiates it
//! (a source turned on or off) or restarts its ICE; both must keep the m-lines as JSEP says,
//! and an ICE restart must keep them exactly, or the offer is refused before str0m changes
//! anything.

use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::media::Mid;

use super::Room;
use crate::api::{Direction, Kind, LayerHint, ParticipantId, SfuError, SfuEvent, TrackHint};
use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::limit::TokenBucket;
use crate::participant::{ICE_RESTART_BURST, ICE_RESTART_EVERY, Up, UpLayer, UpTrack, kind_of};
use crate::sdp::{self, Section, count_media_sections, source_for};

impl Room {
    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        offer: &str,
        hints: Vec<TrackHint>,
        ctx: &mut Ctx,
    ) -> Result<(), SfuError> {
        let found = count_media_sections(offer);
        let max = ctx.config.max_tracks_per_participant;
        if found > max {
            return Err(SfuError::TooManyTracks { found, max });
        }
        sdp::check_offer(offer).map_err(SfuError::BadSdp)?;
        let sections = sdp::sections(offer);
        let fingerprint = sdp::fingerprint(offer).unwrap_or_default().to_string();
        let ufrag = sdp::ice_ufrag(offer).unwrap_or_default().to_string();
        let parsed =
            SdpOffer::from_sdp_string(offer).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let p = self
            .participants
            .get(&participant)
            .ok_or(SfuError::UnknownParticipant)?;
        let same_pc =
            p.up.as_ref()
                .is_some_and(|u| !fingerprint.is_empty() && u.fingerprint == fingerprint);
        let offer = Offer {
            parsed,
            sections,
            fingerprint,
            ufrag,
            hints,
        };
        let answer = if same_pc {
            self.renegotiate(now, participant, offer, ctx)
        } else {
            self.replace_publish_conn(now, participant, offer, ctx)
        }?;
        self.emit(participant, SfuEvent::PublishAnswer { sdp: answer }, ctx);
        Ok(())
    }

    /// A new peer connection: a new `Rtc` answers it and takes the place of the old one.
    fn replace_publish_conn(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        offer: Offer,
        ctx: &mut Ctx,
    ) -> Result<String, SfuError> {
        let key = self.conn_key(participant, Direction::Publish);
        let mut conn = Conn::new(now, key, ctx);
        let answer = match conn.rtc.sdp_api().accept_offer(offer.parsed) {
            Ok(answer) => answer,
            Err(e) => {
                conn.unroute(ctx);
                return Err(SfuError::BadSdp(e.to_string()));
            }
        };
        let tracks = up_tracks(
            &mut self.next_incarnation,
            &conn,
            &offer.sections,
            &offer.hints,
            Vec::new(),
        );
        let p = self
            .participants
            .get_mut(&participant)
            .expect("caller checked");
        // Down slots stay bound to the streams; their rewriters go on from a keyframe of the
        // new tracks' incarnations: subscribers see one continuous stream.
        if let Some(old) = p.up.take() {
            old.conn.unroute(ctx);
        }
        p.up = Some(Up {
            conn,
            tracks,
            fingerprint: offer.fingerprint,
            remote_ufrag: offer.ufrag,
            sections: offer.sections,
            restarts: TokenBucket::new(ICE_RESTART_BURST, ICE_RESTART_EVERY),
            orphaned_at: None,
        });
        self.streams_changed = true;
        Ok(answer.to_sdp_string())
    }

    /// The same peer connection offers again: sources on or off, or an ICE restart.
    fn renegotiate(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        offer: Offer,
        ctx: &mut Ctx,
    ) -> Result<String, SfuError> {
        let p = self
            .participants
            .get_mut(&participant)
            .expect("caller checked");
        let up = p.up.as_mut().expect("caller checked");
        let ice_restart = offer.ufrag != up.remote_ufrag;
        if let Err(why) = sdp::check_renegotiation(&up.sections, &offer.sections, ice_restart) {
            ctx.stats.publish_renegotiations_refused += 1;
            tracing::warn!(room = %self.id, %participant, reason = %why, "publish renegotiation refused");
            return Err(SfuError::BadSdp(why));
        }
        if ice_restart && !up.restarts.try_take(now) {
            ctx.stats.ice_restarts_limited += 1;
            return Err(SfuError::RateLimited);
        }
        let answer = match up.conn.rtc.sdp_api().accept_offer(offer.parsed) {
            Ok(answer) => answer,
            Err(e) => {
                ctx.stats.publish_renegotiations_refused += 1;
                tracing::warn!(room = %self.id, %participant, error = %e, "publish renegotiation failed");
                return Err(SfuError::BadSdp(e.to_string()));
            }
        };
        up.conn.dirty = true;
        if ice_restart {
            ctx.stats.ice_restarts += 1;
            up.conn.sync_ufrag(ctx);
            tracing::info!(%participant, "publish connection: ICE restart");
        }
        up.remote_ufrag = offer.ufrag;
        up.sections = offer.sections;
        let old = std::mem::take(&mut up.tracks);
        let before: Vec<u64> = old.iter().map(|t| t.incarnation).collect();
        let (sections, hints) = (&up.sections, &offer.hints);
        up.tracks = up_tracks(&mut self.next_incarnation, &up.conn, sections, hints, old);
        let after = up.tracks.iter().map(|t| t.incarnation);
        let changed = !after.eq(before.iter().copied());
        self.streams_changed |= changed;
        Ok(answer.to_sdp_string())
    }
}

/// The up tracks of an accepted offer: one per source, from the m-lines that send. A track
/// that was there before on the same m-line with the same source and layers keeps its
/// incarnation and keyframe limiters. Taken from the offer rather than from str0m's MediaAdded
/// events, which come only once DTLS is up: a restarted publisher's streams must be known at
/// once, or every subscriber would see them inactive and offered anew.
fn up_tracks(
    next_incarnation: &mut u64,
    conn: &Conn,
    sections: &[Section],
    hints: &[TrackHint],
    old: Vec<UpTrack>,
) -> Vec<UpTrack> {
    let mut tracks: Vec<UpTrack> = Vec::new();
    let mut old: Vec<Option<UpTrack>> = old.into_iter().map(Some).collect();
    for s in sections.iter().filter(|s| s.sends && !s.mid.is_empty()) {
        let source = source_for(hints, &s.mid, s.kind);
        let mid = Mid::from(s.mid.as_str());
        let known = conn
            .rtc
            .media(mid)
            .is_some_and(|m| kind_of(m.kind()) == s.kind);
        if !known || tracks.iter().any(|t| t.source == source) {
            continue;
        }
        let layers = layers_of(s, hints.iter().find(|h| h.mid == s.mid));
        let same = |t: &UpTrack| {
            let rids = t.layers.iter().map(|l| l.rid);
            t.mid == mid && t.source == source && rids.eq(layers.iter().map(|l| l.rid))
        };
        let kept = old
            .iter_mut()
            .find(|t| t.as_ref().is_some_and(same))
            .and_then(Option::take);
        let track = match kept {
            Some(t) => t,
            None => {
                *next_incarnation += 1;
                UpTrack {
                    mid,
                    kind: s.kind,
                    source,
                    incarnation: *next_incarnation,
                    layers,
                    payloads: Vec::new(),
                    ingress_loss: 0.0,
                    told_active: None,
                    capped: None,
                    cap_ignored_at: None,
                    started: None,
                }
            }
        };
        tracks.push(track);
    }
    tracks
}

/// The encodings of a sending m-line, smallest first: its simulcast rids in the order the
/// client's `layers` gives them (with their heights), else in the offer's order at 180, 360
/// and 720 lines (the largest at 720); one encoding without a rid when it does not simulcast.
fn layers_of(section: &Section, hint: Option<&TrackHint>) -> Vec<UpLayer> {
    let layer = |rid: Option<&str>, height: u32| UpLayer {
        rid: rid.map(Into::into),
        height,
        keyframes: Default::default(),
        last_packet: None,
        rate: Default::default(),
        paused_at_source: None,
        unwanted_since: None,
        switched_on: None,
    };
    if section.rids.is_empty() {
        let height = if section.kind == Kind::Audio { 0 } else { 720 };
        return vec![layer(None, height)];
    }
    let hinted: Vec<&LayerHint> = hint
        .map(|h| {
            h.layers
                .iter()
                .filter(|l| section.rids.contains(&l.rid))
                .collect()
        })
        .unwrap_or_default();
    if hinted.len() == section.rids.len() {
        return hinted
            .iter()
            .map(|l| layer(Some(&l.rid), l.height.clamp(1, 8192)))
            .collect();
    }
    let n = section.rids.len() as u32;
    let rids = section.rids.iter().enumerate();
    rids.map(|(i, rid)| layer(Some(rid), 720 >> (n - 1 - i as u32)))
        .collect()
}

/// A publish offer, read.
struct Offer {
    parsed: SdpOffer,
    sections: Vec<Section>,
    fingerprint: String,
    ufrag: String,
    hints: Vec<TrackHint>,
}
