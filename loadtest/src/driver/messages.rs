//! What the server says once the bot is joined: the answer to its publish offer, subscribe
//! offers (reset ones on a new connection; m-lines mapped by mid from the latest offer), and
//! the room's news, noted in the stats.

use std::time::Instant;

use str0m::RtcError;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{MediaKind, Mid};

use super::join::Admitted;
use super::{Bot, DownTrack};
use crate::bot::BotError;
use crate::gaps::StreamKind;
use crate::protocol::{Participant, Pc, SubscribeTrack};
use crate::signaling::SignalEvent;

/// `subscribe_failed.reason` is for the server's log and at most this long.
const REASON_MAX: usize = 200;

impl Bot {
    pub(super) async fn handle_signal(&mut self, event: SignalEvent) -> Result<(), BotError> {
        if self.away.is_some() {
            return self.handle_resume_answer(event).await;
        }
        match event {
            SignalEvent::PublishAnswer { sdp } => self.handle_publish_answer(&sdp)?,
            SignalEvent::SubscribeOffer { sdp, tracks, reset } => {
                self.handle_subscribe_offer(&sdp, &tracks, reset).await?;
            }
            SignalEvent::Closed(why) => return Err(self.closed(why)),
            SignalEvent::Joined {
                you,
                participants,
                session,
                resume,
                resumed: false,
            } if self.stats.id.as_deref() == Some(you.id.as_str()) => {
                let joined = Admitted {
                    you,
                    participants,
                    session,
                    resume,
                };
                self.restart_media(joined).await?;
            }
            other => self.handle_news(other),
        }
        Ok(())
    }

    /// `joined` again on our seat, not resumed: the server's media for the room started anew
    /// (docs/protocol.md, `joined`); new connections, as a page does.
    pub(super) async fn restart_media(&mut self, joined: Admitted) -> Result<(), BotError> {
        self.stats.media_restarts += 1;
        self.new_connections().await?;
        self.handle_admitted(joined);
        self.start_media().await
    }

    /// What the server says about the room, the same in the lobby and after `joined`: noted
    /// in the stats.
    pub(super) fn handle_news(&mut self, event: SignalEvent) {
        let at = self.elapsed();
        match event {
            SignalEvent::Participant(p) => self.handle_participant(p),
            SignalEvent::Left { id } => {
                let i = self.stats.remote_index(&id);
                self.stats.remotes[i].left = Some(at);
                self.handle_view_change();
            }
            SignalEvent::Speakers { speaking, dominant } => {
                self.stats.speakers_events += 1;
                self.stats.speaking = speaking;
                self.stats.dominant = dominant;
            }
            SignalEvent::RoomEnded { reason } => self.stats.room_ended = Some(reason),
            SignalEvent::Bandwidth { paused, limited } => {
                self.stats.handle_bandwidth(at, &paused, limited);
            }
            SignalEvent::Encodings { active } => {
                self.stats.sent.encodings_messages += 1;
                // A new publisher (a rejoin) starts with every encoding on, as the server's
                // new participant does.
                if let Some(publisher) = &mut self.publisher {
                    publisher.set_active(&active);
                }
            }
            SignalEvent::CameraBitrate { max_bitrate } => {
                self.stats.sent.camera_caps += 1;
                if let Some(publisher) = &mut self.publisher {
                    publisher.cap_lowest(max_bitrate);
                }
            }
            SignalEvent::Problem(text) => self.stats.push_error(text),
            // A resume waiting in the server's queue: the call goes on meanwhile.
            SignalEvent::Queued {
                position,
                waiting,
                wait_secs,
            } => self.stats.queue.push(crate::stats::QueueNote {
                at,
                position,
                waiting,
                wait_secs,
            }),
            SignalEvent::Busy { retry_after } => {
                let (code, message) = (
                    "server_busy".to_owned(),
                    format!("retry after {retry_after:?}"),
                );
                self.stats
                    .push_error(format!("server error {code}: {message}"));
                self.last_error = Some((code, message));
            }
            SignalEvent::Refused { code, message } => {
                if code == "bad_sdp" {
                    self.stats.renegotiations_failed += 1;
                }
                self.stats
                    .push_error(format!("server error {code}: {message}"));
                self.last_error = Some((code, message));
            }
            SignalEvent::Joined { .. } => self.stats.push_error("second joined".into()),
            SignalEvent::Lobby { .. } => self.stats.push_error("lobby after joined".into()),
            SignalEvent::PublishAnswer { .. } | SignalEvent::SubscribeOffer { .. } => {
                self.stats
                    .push_error("media signaling while waiting in the lobby".into());
            }
            SignalEvent::Closed(_) => unreachable!("handled by the callers"),
        }
    }

    /// A participant as the server describes it: this bot, or a remote one.
    pub(super) fn handle_participant(&mut self, p: Participant) {
        if self.stats.id.as_deref() == Some(p.id.as_str()) {
            self.stats.you = Some(p);
            return;
        }
        let i = self.stats.remote_index(&p.id);
        let remote = &mut self.stats.remotes[i];
        remote.name = Some(p.name.clone());
        remote.participant = Some(p);
        // A new role (a teacher joining, a co-teacher made host) can change the stage.
        self.handle_view_change();
    }

    fn handle_publish_answer(&mut self, sdp: &str) -> Result<(), BotError> {
        let Some(pending) = self.pending_publish.take() else {
            return Err(BotError::Protocol(
                "publish_answer without a publish".into(),
            ));
        };
        self.unanswered_publish = None;
        let sdp = self.relayed(sdp)?;
        let answer = SdpAnswer::from_sdp_string(&sdp).map_err(RtcError::from)?;
        let rtc = self.publish.rtc().ok_or_else(|| {
            BotError::Protocol("publish_answer after the publish connection failed".into())
        })?;
        let result = rtc.sdp_api().accept_answer(pending, answer);
        if result.is_err() {
            self.stats.renegotiations_failed += 1;
        }
        self.after_mutation(Pc::Publish, Instant::now(), result);
        Ok(())
    }

    /// Answers a subscribe offer, on a new connection if it is `reset`; one the bot cannot
    /// apply is answered with `subscribe_failed`, and the server offers a new connection.
    async fn handle_subscribe_offer(
        &mut self,
        sdp: &str,
        tracks: &[SubscribeTrack],
        reset: bool,
    ) -> Result<(), BotError> {
        if reset {
            self.stats.subscribe_resets += 1;
            self.new_subscribe().await?;
        }
        let sdp = self.relayed(sdp)?;
        let answer = match self.accept_subscribe_offer(&sdp, tracks) {
            Ok(answer) => answer,
            Err(e) => {
                self.stats.renegotiations_failed += 1;
                let reason: String = e.to_string().chars().take(REASON_MAX).collect();
                self.stats
                    .push_error(format!("subscribe offer refused: {reason}"));
                return self.signal()?.subscribe_failed(reason).await;
            }
        };
        let candidate = if self.subscribe_candidate_sent {
            None
        } else {
            Some(self.subscribe.candidate()?.to_sdp_string())
        };
        self.subscribe_candidate_sent = true;
        self.signal()?
            .subscribe_answer(answer.to_sdp_string(), candidate)
            .await
    }

    fn accept_subscribe_offer(
        &mut self,
        sdp: &str,
        tracks: &[SubscribeTrack],
    ) -> Result<SdpAnswer, RtcError> {
        let now = Instant::now();
        let offer = SdpOffer::from_sdp_string(sdp)?;
        if self.subscribe.rtc().is_none() {
            let rtc = self.subscribe.new_rtc(now)?;
            self.subscribe.set_rtc(rtc);
            self.drain(Pc::Subscribe, now);
        }
        let rtc = self.subscribe.rtc().expect("set just above");
        let answer = rtc.sdp_api().accept_offer(offer)?;
        self.drain(Pc::Subscribe, now);
        self.stats.subscribe_offers += 1;
        self.map_tracks(tracks);
        Ok(answer)
    }

    /// The server's SDP with its candidates pointing at the bot's relay, if it has one.
    fn relayed(&self, sdp: &str) -> Result<String, BotError> {
        let Some(relay) = &self.config.relay else {
            return Ok(sdp.to_owned());
        };
        relay.note_sdp(sdp);
        let mut failed = None;
        let out = crate::relay::rewrite_candidates(sdp, |server| {
            relay.route(server).map_err(|e| failed = Some(e)).ok()
        });
        match failed {
            Some(e) => Err(BotError::Io(e)),
            None => Ok(out),
        }
    }

    /// Replaces the mid -> participant map with the offer's `tracks` (an m-line may carry
    /// someone else than before: the protocol reuses inactive ones), keeping PLI throttles.
    fn map_tracks(&mut self, tracks: &[SubscribeTrack]) {
        let old = std::mem::take(&mut self.down_tracks);
        let me = self.stats.id.clone().unwrap_or_default();
        for t in tracks {
            let (kind, stream) = match t.kind.as_str() {
                "audio" => (MediaKind::Audio, StreamKind::Audio),
                "video" => (MediaKind::Video, StreamKind::Video),
                other => {
                    self.stats.push_error(format!("track kind {other:?}"));
                    continue;
                }
            };
            let mid = Mid::from(t.mid.as_str());
            let remote = self.stats.remote_index(&t.participant);
            let log = self.stats.gap_log_index(&me, &t.participant, stream);
            let last_pli = old.iter().find(|o| o.mid == mid).and_then(|o| o.last_pli);
            self.down_tracks.push(DownTrack {
                mid,
                remote,
                log,
                kind,
                last_pli,
            });
        }
        self.handle_view_change();
    }
}
