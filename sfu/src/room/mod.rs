//! One room: its participants, the streams they publish, and the forwarding of every frame from
//! a publisher's up track to each subscriber's down track. Sans-IO: time comes in as `now`,
//! datagrams go out through [`Ctx::out`].

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use str0m::Event;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction as SdpDirection, MediaData, MediaTime, Mid};
use str0m::{Candidate, Input};

use crate::api::{
    Command, Direction, DownTrackInfo, Kind, ParticipantId, RoomId, SfuError, SfuEvent, Source,
};
use crate::clock::TimestampMapper;
use crate::conn::Conn;
use crate::participant::{
    DownState, DownTrack, Participant, StreamKey, Up, UpTrack, kind_of, media_kind,
};
use crate::sdp::{count_media_sections, offered_media, source_for};
use crate::speakers::Speakers;
use crate::worker::{ConnKey, Ctx, Output};

pub(crate) struct Room {
    id: RoomId,
    /// Ordered, so that iteration (and so every test) is deterministic.
    participants: BTreeMap<ParticipantId, Participant>,
    /// The set of published streams changed: down tracks must be reconciled.
    streams_changed: bool,
    /// Scratch buffer for events polled from connections; kept to avoid allocating per packet.
    events: Vec<(ParticipantId, Direction, Event)>,
    /// Active-speaker detection over the audio that passes the gates.
    speakers: Speakers,
    next_timeout: Option<Instant>,
}

impl Room {
    pub fn new(id: RoomId) -> Room {
        Room {
            id,
            participants: BTreeMap::new(),
            streams_changed: false,
            events: Vec::new(),
            speakers: Speakers::default(),
            next_timeout: None,
        }
    }

    // ---- getters ----

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    // ---- inputs ----

    pub fn handle_command(&mut self, now: Instant, cmd: Command, ctx: &mut Ctx) {
        let result = match cmd {
            Command::Join { participant } => {
                self.handle_join(participant, ctx);
                Ok(())
            }
            Command::Publish {
                participant,
                offer,
                sources,
            } => self
                .handle_publish(now, participant, &offer, sources, ctx)
                .map_err(|e| (participant, e)),
            Command::SubscribeAnswer {
                participant,
                answer,
            } => self
                .handle_subscribe_answer(now, participant, &answer, ctx)
                .map_err(|e| (participant, e)),
            Command::RemoteCandidate {
                participant,
                direction,
                candidate,
            } => {
                self.handle_remote_candidate(participant, direction, &candidate);
                Ok(())
            }
            Command::Gate {
                participant,
                source,
                open,
            } => {
                self.handle_gate(now, participant, source, open, ctx);
                Ok(())
            }
            Command::Leave { participant } => {
                if let Some(p) = self.participants.remove(&participant) {
                    self.unroute_participant(&p, ctx);
                    self.speakers.handle_leave(participant, now);
                    self.streams_changed = true;
                }
                Ok(())
            }
            Command::Close => {
                self.close(ctx);
                Ok(())
            }
        };
        if let Err((participant, error)) = result {
            self.emit(participant, SfuEvent::Error(error), ctx);
        }
        self.drive(now, ctx);
    }

    /// A datagram the worker routed to one of this room's connections.
    pub fn handle_receive(&mut self, key: &ConnKey, input: Input, ctx: &mut Ctx) {
        let Input::Receive(now, ref recv) = input else {
            return;
        };
        let source = recv.source;
        let Some(conn) = self.conn_mut(key.participant, key.direction) else {
            ctx.stats.datagrams_rejected += 1;
            return;
        };
        if !conn.rtc.accepts(&input) {
            ctx.stats.datagrams_rejected += 1;
            return;
        }
        if let Err(e) = conn.rtc.handle_input(input) {
            tracing::debug!(error = %e, "connection input failed");
            conn.rtc.disconnect();
        }
        conn.dirty = true;
        if !conn.addrs.contains(&source) {
            conn.addrs.push(source);
            ctx.routes.add_addr(source, key.clone(), &mut ctx.out);
        }
        self.drive(now, ctx);
    }

    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx) {
        if self.next_timeout.is_none_or(|t| t > now) {
            return;
        }
        for p in self.participants.values_mut() {
            ctx.stats.keyframe_requests += p.handle_keyframe_timeouts(now) as u64;
            for conn in p.conns_mut() {
                if conn.next_timeout <= now {
                    if let Err(e) = conn.rtc.handle_input(Input::Timeout(now)) {
                        tracing::debug!(error = %e, "connection timeout failed");
                        conn.rtc.disconnect();
                    }
                    conn.dirty = true;
                }
            }
        }
        self.announce_speakers(now, ctx);
        self.drive(now, ctx);
    }

    /// Frees everything: every connection's routes, and the participants.
    pub fn close(&mut self, ctx: &mut Ctx) {
        let participants = std::mem::take(&mut self.participants);
        for p in participants.values() {
            self.unroute_participant(p, ctx);
        }
        self.speakers = Speakers::default();
        self.next_timeout = None;
    }

    // ---- commands ----

    fn handle_join(&mut self, participant: ParticipantId, ctx: &mut Ctx) {
        if self.participants.contains_key(&participant) {
            return;
        }
        self.participants
            .insert(participant, Participant::new(participant));
        self.streams_changed = true;
        // Others heard of the speakers as they changed; a newcomer hears where things stand.
        if let Some(s) = self.speakers.announced() {
            let event = SfuEvent::Speakers {
                speaking: s.speaking.clone(),
                dominant: s.dominant,
            };
            self.emit(participant, event, ctx);
        }
    }

    /// Opens or closes one of a participant's gates, which `forward` checks on every frame.
    /// Signaling may race a participant's leave, so an unknown participant is no error.
    fn handle_gate(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        source: Source,
        open: bool,
        ctx: &mut Ctx,
    ) {
        let Some(p) = self.participants.get_mut(&participant) else {
            tracing::trace!(%participant, "gate for a participant not in the room");
            return;
        };
        if !p.gates.set(source, open) {
            return;
        }
        tracing::debug!(%participant, source = source.as_str(), open, "gate");
        if source == Source::Microphone {
            if !open {
                self.speakers.handle_mute(participant, now);
            }
            return;
        }
        if open {
            // Subscribers missed frames the next delta frame refers to: they wait for a
            // keyframe, and the publisher is asked for one at once (within the limiter).
            let stream = StreamKey {
                publisher: participant,
                source,
            };
            for sub in self.participants.values_mut() {
                let tracks = sub.down.tracks.iter_mut();
                for t in tracks.filter(|t| t.stream == stream && t.kind == Kind::Video) {
                    t.need_keyframe = true;
                }
            }
            self.request_keyframe(stream, now, ctx);
        }
    }

    fn handle_publish(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        offer: &str,
        source_hints: Vec<(String, Source)>,
        ctx: &mut Ctx,
    ) -> Result<(), SfuError> {
        let found = count_media_sections(offer);
        let max = ctx.config.max_tracks_per_participant;
        if found > max {
            return Err(SfuError::TooManyTracks { found, max });
        }
        let offered = offered_media(offer);
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        if !self.participants.contains_key(&participant) {
            return Err(SfuError::UnknownParticipant);
        }
        let mut conn = Conn::new(now, ctx);
        let answer = conn
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let key = ConnKey {
            room: self.id.clone(),
            participant,
            direction: Direction::Publish,
        };
        ctx.routes.add_ufrag(&conn.ufrag, key, &mut ctx.out);
        let p = self
            .participants
            .get_mut(&participant)
            .expect("checked above");
        // A second publish replaces the first connection; down tracks stay bound to the
        // streams and rebase their timestamps on the new generation.
        if let Some(old) = p.up.take() {
            ctx.routes.remove_conn(&old.conn, &mut ctx.out);
        }
        p.generation += 1;
        // The tracks are taken from the offer rather than from str0m's MediaAdded events,
        // which come only once DTLS is up: a restarted publisher's streams must be known at
        // once, or every subscriber would see them stopped and offered anew.
        let mut tracks: Vec<UpTrack> = Vec::new();
        for (mid, kind) in offered {
            let source = source_for(&source_hints, &mid, kind);
            let mid = Mid::from(mid.as_str());
            let known = conn
                .rtc
                .media(mid)
                .is_some_and(|m| kind_of(m.kind()) == kind);
            if known && !tracks.iter().any(|t| t.source == source) {
                let keyframes = Default::default();
                tracks.push(UpTrack {
                    mid,
                    kind,
                    source,
                    keyframes,
                });
            }
        }
        p.up = Some(Up { conn, tracks });
        self.streams_changed = true;
        self.emit(
            participant,
            SfuEvent::PublishAnswer {
                sdp: answer.to_sdp_string(),
            },
            ctx,
        );
        Ok(())
    }

    fn handle_subscribe_answer(
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
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let pending = p.down.pending.take().expect("checked above");
        let accepted = conn.rtc.sdp_api().accept_answer(pending, answer);
        conn.dirty = true;
        let connected = conn.connected;
        let ok = accepted.is_ok();
        let mut opened = Vec::new();
        p.down.tracks.retain_mut(|t| match t.state {
            DownState::Negotiating(m) if ok => {
                t.state = DownState::Open(m);
                opened.push(t.stream);
                true
            }
            DownState::Negotiating(_) => {
                t.state = DownState::ToOpen;
                true
            }
            DownState::NegotiatingStop(m) if !ok => {
                t.state = DownState::ToStop(m);
                true
            }
            DownState::NegotiatingStop(_) => false,
            _ => true,
        });
        // Changes that arrived while the offer was out go in the next one.
        self.streams_changed = true;
        if connected {
            for stream in opened {
                self.request_keyframe(stream, now, ctx);
            }
        }
        accepted.map_err(|e| SfuError::BadSdp(e.to_string()))
    }

    fn handle_remote_candidate(&mut self, p: ParticipantId, dir: Direction, candidate: &str) {
        let candidate = candidate.trim().trim_start_matches("a=");
        if candidate.is_empty() {
            return;
        }
        let Ok(c) = Candidate::from_sdp_string(candidate) else {
            tracing::debug!("ignoring unparsable remote candidate");
            return;
        };
        if let Some(conn) = self.conn_mut(p, dir) {
            conn.rtc.add_remote_candidate(c);
            conn.dirty = true;
        }
    }

    // ---- the run loop of a room ----

    /// Polls every connection that has work until all wait for time or input, handling the
    /// events this produces (which may give other connections work), then re-arms the timeout.
    fn drive(&mut self, now: Instant, ctx: &mut Ctx) {
        loop {
            self.poll_conns(ctx);
            self.remove_dead_conns(ctx);
            if self.events.is_empty() && !self.streams_changed {
                break;
            }
            let mut events = std::mem::take(&mut self.events);
            for (participant, direction, event) in events.drain(..) {
                self.handle_event(now, participant, direction, event, ctx);
            }
            self.events = events;
            if std::mem::take(&mut self.streams_changed) {
                self.reconcile(now, ctx);
            }
        }
        self.next_timeout = self
            .participants
            .values()
            .flat_map(|p| {
                p.conns()
                    .map(|c| c.next_timeout)
                    .chain(p.keyframe_timeout())
            })
            .chain(self.speakers.poll_timeout())
            .min();
    }

    /// Tells everyone in the room who speaks, if a speakers tick is due and it changed.
    fn announce_speakers(&mut self, now: Instant, ctx: &mut Ctx) {
        let Some(s) = self.speakers.handle_timeout(now) else {
            return;
        };
        let (speaking, dominant) = (s.speaking.clone(), s.dominant);
        for &id in self.participants.keys() {
            let speaking = speaking.clone();
            self.emit(id, SfuEvent::Speakers { speaking, dominant }, ctx);
        }
    }

    fn poll_conns(&mut self, ctx: &mut Ctx) {
        for p in self.participants.values_mut() {
            let id = p.id;
            if let Some(up) = &mut p.up {
                poll_conn(&mut up.conn, id, Direction::Publish, &mut self.events, ctx);
            }
            if let Some(conn) = &mut p.down.conn {
                poll_conn(conn, id, Direction::Subscribe, &mut self.events, ctx);
            }
        }
    }

    fn handle_event(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        direction: Direction,
        event: Event,
        ctx: &mut Ctx,
    ) {
        match (direction, event) {
            (Direction::Publish, Event::MediaData(data)) => self.forward(participant, data, ctx),
            (Direction::Subscribe, Event::KeyframeRequest(req)) => {
                let stream = self.participants.get(&participant).and_then(|p| {
                    let t = p
                        .down
                        .tracks
                        .iter()
                        .find(|t| t.state == DownState::Open(req.mid))?;
                    Some(t.stream)
                });
                if let Some(stream) = stream {
                    self.request_keyframe(stream, now, ctx);
                }
            }
            (Direction::Subscribe, Event::Connected) => {
                let streams: Vec<StreamKey> = self.participants[&participant]
                    .down
                    .tracks
                    .iter()
                    .filter(|t| matches!(t.state, DownState::Open(_)) && t.kind == Kind::Video)
                    .map(|t| t.stream)
                    .collect();
                for stream in streams {
                    self.request_keyframe(stream, now, ctx);
                }
            }
            (_, Event::IceConnectionStateChange(state)) => {
                tracing::debug!(%participant, ?direction, ?state, "ice state");
            }
            _ => {}
        }
    }

    /// Sends one frame from a publisher to every subscriber of its stream.
    fn forward(&mut self, publisher: ParticipantId, data: MediaData, ctx: &mut Ctx) {
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
        let (kind, generation) = (track.kind, p.generation);
        let mut want_keyframe = kind == Kind::Video && !data.contiguous;
        let clock_rate = data.time.frequency();
        for (_, sub) in self
            .participants
            .range_mut(..)
            .filter(|(id, _)| **id != publisher)
        {
            let Some(conn) = sub.down.conn.as_mut().filter(|c| c.connected) else {
                continue;
            };
            for t in sub.down.tracks.iter_mut().filter(|t| t.stream == stream) {
                let DownState::Open(mid) = t.state else {
                    continue;
                };
                if t.need_keyframe {
                    if !data.is_keyframe() {
                        ctx.stats.frames_waiting_keyframe += 1;
                        want_keyframe = true;
                        continue;
                    }
                    t.need_keyframe = false;
                }
                if write_frame(conn, mid, &mut t.clock, &data, generation, clock_rate) {
                    ctx.stats.frames_forwarded += 1;
                }
            }
        }
        if want_keyframe {
            self.request_keyframe(stream, data.network_time, ctx);
        }
    }

    fn request_keyframe(&mut self, stream: StreamKey, now: Instant, ctx: &mut Ctx) {
        let Some(p) = self.participants.get_mut(&stream.publisher) else {
            return;
        };
        if p.request_keyframe(stream.source, now) {
            ctx.stats.keyframe_requests += 1;
        }
    }

    // ---- subscriptions ----

    /// Makes every participant's down tracks match the streams the others publish, and offers
    /// the difference to each subscriber that has no offer outstanding.
    fn reconcile(&mut self, now: Instant, ctx: &mut Ctx) {
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
            plan_down_tracks(&mut sub.down.tracks, wanted);
            if sub.down.pending.is_none() {
                self.offer(now, id, ctx);
            }
        }
    }

    fn offer(&mut self, now: Instant, id: ParticipantId, ctx: &mut Ctx) {
        let room = self.id.clone();
        let sub = self.participants.get_mut(&id).expect("caller checked");
        let down = &mut sub.down;
        let needs_offer = down
            .tracks
            .iter()
            .any(|t| matches!(t.state, DownState::ToOpen | DownState::ToStop(_)));
        if !needs_offer {
            return;
        }
        let conn = down.conn.get_or_insert_with(|| {
            let conn = Conn::new(now, ctx);
            let key = ConnKey {
                room,
                participant: id,
                direction: Direction::Subscribe,
            };
            ctx.routes.add_ufrag(&conn.ufrag, key, &mut ctx.out);
            conn
        });
        let mut change = conn.rtc.sdp_api();
        for t in &mut down.tracks {
            match t.state {
                DownState::ToOpen => {
                    let stream_id = t.stream.publisher.to_string();
                    let track_id = format!("{}-{}", stream_id, t.stream.source.as_str());
                    let mid = change.add_media(
                        media_kind(t.kind),
                        SdpDirection::SendOnly,
                        Some(stream_id),
                        Some(track_id),
                        None,
                    );
                    t.state = DownState::Negotiating(mid);
                }
                DownState::ToStop(mid) => {
                    change.stop_media(mid);
                    t.state = DownState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        let Some((offer, pending)) = change.apply() else {
            return;
        };
        conn.dirty = true;
        down.pending = Some(pending);
        let tracks = down
            .tracks
            .iter()
            .filter_map(|t| {
                Some(DownTrackInfo {
                    mid: t.state.active_mid()?.to_string(),
                    participant: t.stream.publisher,
                    kind: t.kind,
                    source: t.stream.source,
                })
            })
            .collect();
        let sdp = offer.to_sdp_string();
        self.emit(id, SfuEvent::SubscribeOffer { sdp, tracks }, ctx);
    }

    // ---- helpers ----

    fn conn_mut(&mut self, p: ParticipantId, dir: Direction) -> Option<&mut Conn> {
        let p = self.participants.get_mut(&p)?;
        match dir {
            Direction::Publish => p.up.as_mut().map(|u| &mut u.conn),
            Direction::Subscribe => p.down.conn.as_mut(),
        }
    }

    fn emit(&self, participant: ParticipantId, event: SfuEvent, ctx: &mut Ctx) {
        ctx.out.push_back(Output::Event {
            room: self.id.clone(),
            participant,
            event,
        });
    }

    fn unroute_participant(&self, p: &Participant, ctx: &mut Ctx) {
        for conn in p.conns() {
            ctx.routes.remove_conn(conn, &mut ctx.out);
        }
    }

    /// Drops connections str0m has given up on (ICE timed out, DTLS failed, closed by the
    /// peer). A dead publish connection takes its streams with it; a dead subscribe connection
    /// is rebuilt on the next offer.
    fn remove_dead_conns(&mut self, ctx: &mut Ctx) {
        for p in self.participants.values_mut() {
            if p.up.as_ref().is_some_and(|u| !u.conn.rtc.is_alive()) {
                let up = p.up.take().expect("checked");
                ctx.routes.remove_conn(&up.conn, &mut ctx.out);
                ctx.stats.conns_failed += 1;
                self.streams_changed = true;
            }
            if p.down.conn.as_ref().is_some_and(|c| !c.rtc.is_alive()) {
                let conn = p.down.conn.take().expect("checked");
                ctx.routes.remove_conn(&conn, &mut ctx.out);
                ctx.stats.conns_failed += 1;
                p.down = Default::default();
                self.streams_changed = true;
            }
        }
    }
}

/// Polls one connection until it waits, queueing its transmits and collecting its events.
fn poll_conn(
    conn: &mut Conn,
    id: ParticipantId,
    dir: Direction,
    events: &mut Vec<(ParticipantId, Direction, Event)>,
    ctx: &mut Ctx,
) {
    if !conn.dirty {
        return;
    }
    loop {
        if !conn.rtc.is_alive() {
            conn.dirty = false;
            return;
        }
        match conn.rtc.poll_output() {
            Ok(str0m::Output::Timeout(t)) => {
                conn.next_timeout = t;
                conn.dirty = false;
                return;
            }
            Ok(str0m::Output::Transmit(t)) => ctx.out.push_back(Output::Transmit(t)),
            Ok(str0m::Output::Event(Event::Connected)) => {
                conn.connected = true;
                events.push((id, dir, Event::Connected));
            }
            Ok(str0m::Output::Event(e)) => events.push((id, dir, e)),
            Err(e) => {
                tracing::debug!(participant = %id, ?dir, error = %e, "connection failed");
                conn.rtc.disconnect();
            }
        }
    }
}

/// Writes one frame to a down track; false if the subscriber cannot take this codec.
fn write_frame(
    conn: &mut Conn,
    mid: str0m::media::Mid,
    clock: &mut TimestampMapper,
    data: &MediaData,
    generation: u32,
    clock_rate: str0m::media::Frequency,
) -> bool {
    let Some(mut writer) = conn.rtc.writer(mid) else {
        return false;
    };
    let Some(pt) = writer.match_params(data.params) else {
        return false;
    };
    // Passed on, so that browsers show levels in getSynchronizationSources().
    if let Some(level) = data.ext_vals.audio_level {
        let voice = data.ext_vals.voice_activity.unwrap_or(false);
        writer = writer.audio_level(level, voice);
    }
    let time = clock.map(
        data.time.numer(),
        clock_rate.get(),
        data.network_time,
        generation,
    );
    let rtp_time = MediaTime::new(time, clock_rate);
    let written = writer.write(pt, data.network_time, rtp_time, data.data.clone());
    conn.dirty = true;
    written.is_ok()
}

/// Brings a subscriber's down tracks in line with the streams it should receive. Linear in
/// the number of streams: a lecture of 200 runs this for every subscriber on every join.
fn plan_down_tracks<'a>(
    tracks: &mut Vec<DownTrack>,
    wanted: impl Iterator<Item = &'a (StreamKey, Kind)>,
) {
    let wanted: HashSet<(StreamKey, Kind)> = wanted.copied().collect();
    let have: HashSet<(StreamKey, Kind)> = tracks.iter().map(|t| (t.stream, t.kind)).collect();
    tracks.retain_mut(|t| {
        if wanted.contains(&(t.stream, t.kind)) {
            return true;
        }
        match t.state {
            DownState::ToOpen => false,
            DownState::Open(m) => {
                t.state = DownState::ToStop(m);
                true
            }
            // In the outstanding offer: settled when its answer comes.
            _ => true,
        }
    });
    let mut missing: Vec<&(StreamKey, Kind)> = wanted.difference(&have).collect();
    // Sorted, so m-lines are offered in the same order on every run.
    missing.sort();
    for (stream, kind) in missing {
        tracks.push(DownTrack {
            stream: *stream,
            kind: *kind,
            state: DownState::ToOpen,
            need_keyframe: *kind == Kind::Video,
            clock: TimestampMapper::default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: u32, source: Source) -> StreamKey {
        StreamKey {
            publisher: ParticipantId(p),
            source,
        }
    }

    #[test]
    fn plan_adds_wanted_and_stops_gone_streams() {
        let mut tracks = Vec::new();
        let wanted = [
            (key(1, Source::Microphone), Kind::Audio),
            (key(1, Source::Camera), Kind::Video),
        ];
        plan_down_tracks(&mut tracks, wanted.iter());
        assert_eq!(tracks.len(), 2);
        assert!(tracks.iter().all(|t| t.state == DownState::ToOpen));
        assert!(tracks[1].need_keyframe && !tracks[0].need_keyframe);

        let mid = str0m::media::Mid::from("3");
        tracks[1].state = DownState::Open(mid);
        // Publisher 1 leaves: the open camera track is stopped, the never-offered
        // microphone track is simply dropped.
        plan_down_tracks(&mut tracks, [].iter());
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].state, DownState::ToStop(mid));
    }

    #[test]
    fn plan_keeps_open_track_when_stream_survives() {
        let mut tracks = Vec::new();
        let wanted = [(key(2, Source::Camera), Kind::Video)];
        plan_down_tracks(&mut tracks, wanted.iter());
        let mid = str0m::media::Mid::from("0");
        tracks[0].state = DownState::Open(mid);
        plan_down_tracks(&mut tracks, wanted.iter());
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].state, DownState::Open(mid));
    }
}
