//! Staying in a lesson through network trouble (docs/protocol.md, "Staying in a lesson when
//! the network does not"). A member whose socket goes without a `leave` keeps its seat for a
//! grace, marked `reconnecting` for the others; a new socket with its resume token takes the
//! seat back with the same id and role and no lobby. The SFU's quality ratings of each
//! member's connections are shown to everyone here too.

use aula_sfu::{ParticipantId, Quality, Source};
use tokio::time::Instant;

use super::state::State;
use super::{Departure, Outbox, Outgoing, RoomTask, SocketId};
use crate::admission::Seat;
use crate::protocol::ErrorCode;
use crate::registry::Counters;

impl RoomTask {
    /// A socket ended. A member's seat is kept for a resume unless it left on purpose; a
    /// waiting participant just leaves the lobby (it joins it again by itself).
    pub(super) fn handle_departure(
        &self,
        state: &mut State,
        participant: ParticipantId,
        socket: SocketId,
        how: Departure,
        seat: Option<Seat>,
    ) {
        if !state.speaks_for(participant, socket) {
            return; // an old socket of a resumed session, or someone already gone
        }
        let grace = match how {
            Departure::Left => None,
            Departure::Unloading => Some(self.limits.unload_grace),
            Departure::Lost => Some(self.limits.resume_grace),
        };
        let Some(m) = state
            .members
            .get_mut(&participant)
            .filter(|_| grace.is_some())
        else {
            self.leave(state, participant);
            return;
        };
        let grace = grace.expect("checked above");
        if grace.is_zero() {
            self.leave(state, participant);
            return;
        }
        m.away_until = Some(Instant::now() + grace);
        // Its resume may wait in the queue already (it came while this socket was still
        // open): the seat goes to it; else it waits here for the resume.
        let key = m.resume.as_str().to_string();
        m.seat = seat.and_then(|s| s.hand_to(&key, &self.id));
        m.info.reconnecting = true;
        Counters::bump(&self.registry.counters.reconnecting);
        tracing::info!(%participant, ?how, grace_secs = grace.as_secs(), "socket gone; seat kept");
        state.member_changed(participant);
    }

    /// Lets everyone whose grace has passed go, as if they had left.
    pub(super) fn expire_graces(&self, state: &mut State, now: Instant) {
        let due: Vec<ParticipantId> = state
            .members
            .iter()
            .filter(|(_, m)| m.away_until.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for participant in due {
            tracing::info!(%participant, "no resume within the grace; left");
            Counters::bump(&self.registry.counters.resume_expired);
            self.leave(state, participant);
        }
    }

    /// A new socket presents a member's resume token: it becomes that member's socket.
    pub(super) fn resume(
        &self,
        state: &mut State,
        token: &str,
        fresh: bool,
        out: Outbox,
        socket: SocketId,
    ) -> Result<ParticipantId, ErrorCode> {
        let found = state.members.iter().find(|(_, m)| m.resume.matches(token));
        let Some((&id, _)) = found else {
            Counters::bump(&self.registry.counters.resumes_failed);
            return Err(ErrorCode::ResumeFailed);
        };
        let m = state.members.get_mut(&id).expect("found above");
        if m.away_until.is_none() {
            // The old socket has not noticed yet (or another tab resumed): the newest wins.
            let _ = m.out.send(Outgoing::Close(4000, "opened again elsewhere"));
        }
        let was_away = m.away_until.take().is_some();
        // The resuming socket has a seat of its own: one kept for it and not taken (it came
        // through the queue) is free again.
        m.seat = None;
        m.info.reconnecting = false;
        m.out = out.clone();
        m.socket = socket;
        // Media lost while away: the page starts its connections anew, as after a join.
        let lost = std::mem::take(&mut m.media_lost);
        let joined = self.joined_msg(state, &state.members[&id], !lost);
        let _ = out.send(Outgoing::Msg(joined));
        if self
            .sfu
            .resume(&self.id, id, fresh || lost, self.sink(id, out))
            .is_err()
        {
            return Err(ErrorCode::ServerBusy);
        }
        Counters::bump(&self.registry.counters.resumes);
        tracing::info!(participant = %id, fresh, "resumed");
        if was_away {
            state.member_changed(id);
        }
        Ok(id)
    }

    /// The SFU lost a member's media state: a fault in the room's media code ended it there
    /// (`aula_sfu::SfuEvent::MediaLost`; the worker and its other rooms went on). The member
    /// joins the media room again with its gates and role, and its page gets `joined` with
    /// `resumed: false`, on which it closes its peer connections and starts both anew. Until
    /// its page has published since, its resume is answered so too: a member who is away, or
    /// whose socket has stalled unnoticed, never gets that `joined`.
    pub(super) fn handle_media_lost(&self, state: &mut State, id: ParticipantId) {
        let Some(m) = state.members.get(&id) else {
            return; // it left meanwhile
        };
        tracing::warn!(participant = %id, "media lost; starting it again");
        let (out, info, host) = (m.out.clone(), m.info.clone(), m.is_host());
        if m.away_until.is_none() {
            m.send(self.joined_msg(state, m, false));
        }
        if let Some(m) = state.members.get_mut(&id) {
            m.media_lost = true;
        }
        // `joined` goes out before the SFU hears of the participant, as on a join.
        if self.sfu.join(&self.id, id, self.sink(id, out)).is_err() {
            return; // the server is shutting down
        }
        self.gate(id, Source::Microphone, info.audio);
        self.gate(id, Source::Camera, info.video);
        self.gate(id, Source::Screen, info.screen);
        if host {
            self.tell_role(id, true);
        }
    }

    /// The SFU rated a member's connections anew.
    pub(super) fn handle_quality(&self, state: &mut State, id: ParticipantId, quality: Quality) {
        let Some(m) = state.members.get_mut(&id) else {
            return; // it left meanwhile
        };
        let quality = quality.as_str();
        if m.info.quality == quality {
            return;
        }
        m.info.quality = quality;
        tracing::debug!(participant = %id, quality, "connection quality");
        state.member_changed(id);
    }
}
