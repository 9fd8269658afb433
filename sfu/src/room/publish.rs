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
use crate::api::{Direction, ParticipantId, SfuError, SfuEvent, Source};
use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::limit::TokenBucket;
use crate::participant::{ICE_RESTART_BURST, ICE_RESTART_EVERY, Up, UpTrack, kind_of};
use crate::sdp::{self, Section, count_media_sections, source_for};

impl Room {
    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        offer: &str,
        hints: Vec<(String, Source)>,
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
            &[],
        );
        let p = self
            .participants
            .get_mut(&participant)
            .expect("caller checked");
        // Down slots stay bound to the streams and rebase their timestamps on the new
        // tracks' incarnations: subscribers see one continuous stream.
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
        up.tracks = up_tracks(
            &mut self.next_incarnation,
            &up.conn,
            &up.sections,
            &offer.hints,
            &old,
        );
        let changed = up.tracks.len() != old.len()
            || up
                .tracks
                .iter()
                .zip(&old)
                .any(|(a, b)| a.incarnation != b.incarnation);
        self.streams_changed |= changed;
        Ok(answer.to_sdp_string())
    }
}

/// The up tracks of an accepted offer: one per source, from the m-lines that send. A track
/// that was there before on the same m-line with the same source keeps its incarnation
/// and keyframe limiter. Taken from the offer rather than from str0m's MediaAdded events,
/// which come only once DTLS is up: a restarted publisher's streams must be known at once,
/// or every subscriber would see them inactive and offered anew.
fn up_tracks(
    next_incarnation: &mut u64,
    conn: &Conn,
    sections: &[Section],
    hints: &[(String, Source)],
    old: &[UpTrack],
) -> Vec<UpTrack> {
    let mut tracks: Vec<UpTrack> = Vec::new();
    let mut old: Vec<Option<&UpTrack>> = old.iter().map(Some).collect();
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
        let kept = old
            .iter_mut()
            .find(|t| t.is_some_and(|t| t.mid == mid && t.source == source))
            .and_then(Option::take);
        let (incarnation, keyframes) = match kept {
            Some(t) => (t.incarnation, t.keyframes.clone()),
            None => {
                *next_incarnation += 1;
                (*next_incarnation, Default::default())
            }
        };
        tracks.push(UpTrack {
            mid,
            kind: s.kind,
            source,
            keyframes,
            incarnation,
        });
    }
    tracks
}

/// A publish offer, read.
struct Offer {
    parsed: SdpOffer,
    sections: Vec<Section>,
    fingerprint: String,
    ufrag: String,
    hints: Vec<(String, Source)>,
}
