//! Connection health: each participant's quality rating from str0m's per-stream reports and
//! from silence, announced to the participant's signaling when it changes (signaling tells the
//! room). The rating itself is [`crate::quality::QualityMeter`]'s.

use std::time::{Duration, Instant};

use str0m::stats::{MediaEgressStats, MediaIngressStats};

use super::Room;
use crate::api::{Kind, ParticipantId, Quality, SfuEvent};
use crate::ctx::Ctx;
use crate::quality::SILENCE_LIMIT;

/// How often ratings are reviewed: often enough that a silent connection shows as lost within
/// a second of the limit, rarely enough to cost nothing.
pub(super) const RATE_EVERY: Duration = Duration::from_secs(1);

/// How long a reloaded page's old publish connection keeps its streams for the new page's
/// first publish. A reload publishes again within a few seconds; a page that comes back
/// without camera and microphone (permission now denied) never does, and its old streams,
/// silent, must end.
const ORPHAN_LIMIT: Duration = Duration::from_secs(10);

/// A subscriber's link loss is the worst of the reports within this window (one report round).
pub(super) const LOSS_WINDOW: Duration = Duration::from_secs(1);

impl Room {
    pub(super) fn handle_ingress_stats(
        &mut self,
        participant: ParticipantId,
        s: &MediaIngressStats,
    ) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        let hz = match p.up_kind(s.mid) {
            Some(Kind::Audio) => 48_000,
            Some(Kind::Video) => 90_000,
            None => return,
        };
        let jitter = Duration::from_secs_f64(f64::from(s.jitter) / f64::from(hz));
        p.quality.handle_ingress(s.loss, jitter);
        if let Some(up) = &mut p.up
            && let Some(track) = up.tracks.iter_mut().find(|t| t.mid == s.mid)
            && let Some(loss) = s.loss.filter(|l| l.is_finite())
        {
            track.ingress_loss = loss.clamp(0.0, 1.0);
        }
    }

    /// A subscriber's receiver reports on one m-line. Packets are forwarded as they came, gaps
    /// and all, so what the publisher's link lost shows in the subscriber's loss too: that part
    /// is the publisher's, and only what remains counts against the subscriber's link.
    pub(super) fn handle_egress_stats(&mut self, participant: ParticipantId, s: &MediaEgressStats) {
        let upstream = self.participants.get(&participant).and_then(|p| {
            let slot = p.down.slots.iter().find(|slot| slot.mid == Some(s.mid))?;
            let (_, stream) = slot.live()?;
            let publisher = self.participants.get(&stream.publisher)?;
            let up = publisher.up.as_ref()?;
            let track = up.tracks.iter().find(|t| t.source == stream.source)?;
            Some(track.ingress_loss)
        });
        let loss = s.loss.map(|l| (l - upstream.unwrap_or(0.0)).max(0.0));
        if let Some(p) = self.participants.get_mut(&participant) {
            p.quality.handle_egress(loss, s.rtt);
            if let Some(rtt) = s.rtt {
                super::subscribe::fit_nack_history(&mut p.down, rtt, s.timestamp);
            }
            // What an overflowing queue drops is in what the link delivered already.
            let overflowing = p.down.overflow.is_some_and(|(t, _)| s.timestamp < t);
            if let Some(loss) = (loss.filter(|l| l.is_finite() && !overflowing)).map(|l| l.min(1.0))
            {
                let now = s.timestamp;
                p.down.link_loss = match p.down.link_loss {
                    Some((worst, since)) if now < since + LOSS_WINDOW => {
                        Some((worst.max(loss), since))
                    }
                    _ => Some((loss, now)),
                };
            }
        }
    }

    /// Reviews every participant's rating if it is time, and announces the changes.
    pub(super) fn rate_connections(&mut self, now: Instant, ctx: &mut Ctx) {
        if self.next_health.is_none_or(|t| t > now) {
            return;
        }
        self.next_health = Some(now + RATE_EVERY);
        let mut changes = Vec::new();
        for p in self.participants.values_mut() {
            if p.up
                .as_ref()
                .and_then(|u| u.orphaned_at)
                .is_some_and(|t| now >= t + ORPHAN_LIMIT)
            {
                let up = p.up.take().expect("checked");
                up.conn.unroute(ctx);
                tracing::info!(participant = %p.id, "a reloaded page did not publish again; its streams end");
                self.streams_changed = true;
            }
            let silent = p.is_silent(now, SILENCE_LIMIT);
            if let Some(q) = p.quality.poll(now, silent) {
                if q == Quality::Lost {
                    ctx.stats.conns_silent += 1;
                    p.down.was_lost = true;
                } else if p.down.was_lost {
                    // Heard again after an outage, on the old path or a new one.
                    p.down.was_lost = false;
                    p.down.fresh_path(ctx.config.adaptation);
                    self.next_allocation = Some(now);
                }
                tracing::debug!(participant = %p.id, quality = q.as_str(), "connection quality");
                changes.push((p.id, q));
            }
        }
        for (id, q) in changes {
            self.emit(id, SfuEvent::Quality(q), ctx);
        }
    }
}
