//! One room: its participants, the streams they publish, and the forwarding of every frame from
//! a publisher's up track to each subscriber's down slots. Sans-IO: time comes in as `now`,
//! datagrams and events go out through [`Ctx::out`].
//!
//! # Layout
//! - this file: the room's inputs (commands, datagrams, timeouts) and its run loop.
//! - `publish`: publish offers: a new connection, or a renegotiation (and ICE restart) of one.
//! - `subscribe`: subscribe connections: m-line slots, offers and answers, ICE restarts,
//!   rebuilding a connection that failed.
//! - `forward`: frames from up tracks to down slots, keyframe requests.
//! - `health`: connection quality and silent connections.
//! - `adapt`: bandwidth adaptation: each subscriber's layers, paused videos, encodings
//!   switched off at the publishers.

mod adapt;
mod forward;
mod health;
mod publish;
mod subscribe;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

use str0m::bwe::BweKind;
use str0m::{Event, Input, Reason};

use crate::api::{Command, Direction, ParticipantId, RoomId, SfuEvent, Source};
use crate::conn::Conn;
use crate::ctx::{ConnKey, Ctx, Output};
use crate::participant::{Participant, StreamKey};
use crate::speakers::Speakers;

pub(crate) use subscribe::NACK_HISTORY_MAX;

pub(crate) struct Room {
    id: RoomId,
    /// Ordered, so that iteration (and so every test) is deterministic.
    participants: BTreeMap<ParticipantId, Participant>,
    /// The set of published streams changed: down slots must be reconciled.
    streams_changed: bool,
    /// Scratch buffer for events polled from connections; kept to avoid allocating per packet.
    events: Vec<(ParticipantId, Direction, Event)>,
    /// Active-speaker detection over the audio that passes the gates.
    speakers: Speakers,
    /// The next up track incarnation (see [`crate::participant::UpTrack::incarnation`]).
    next_incarnation: u64,
    /// When connection quality is next rated.
    next_health: Option<Instant>,
    /// When layers are next decided (`adapt`), and when layer rates were last measured.
    next_allocation: Option<Instant>,
    next_overflow_check: Option<Instant>,
    last_measured: Instant,
    /// Packets were written that no poll has sent yet.
    needs_flush: bool,
    /// A poll found a connection str0m has given up on: `remove_dead_conns` has work. A
    /// connection dies in an input or in the poll that drains its close, and every input is
    /// followed by a poll of it.
    dead_seen: bool,
    /// The time of the latest input, for a flush.
    last_now: Instant,
    /// Per stream, the slots that carry it (subscriber, slot index): built when first needed
    /// after the slots changed, so a packet visits only its own subscribers' slots instead of
    /// every slot of every subscriber (a class of 30 has 58 per subscriber).
    fanout: Option<FxHashMap<StreamKey, Vec<(ParticipantId, usize)>>>,
}

impl Room {
    /// A room created at `now`: the core reads no clock of its own (a simulated test's time
    /// is not the machine's).
    pub fn new(id: RoomId, now: Instant) -> Room {
        Room {
            id,
            participants: BTreeMap::new(),
            streams_changed: false,
            events: Vec::new(),
            speakers: Speakers::default(),
            next_incarnation: 1,
            next_health: None,
            next_allocation: None,
            next_overflow_check: None,
            last_measured: now,
            needs_flush: false,
            dead_seen: false,
            last_now: now,
            fanout: None,
        }
    }

    // ---- getters ----

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub fn participant_ids(&self) -> Vec<ParticipantId> {
        self.participants.keys().copied().collect()
    }

    /// When the room next needs `handle_timeout`. Found when asked (once per worker loop
    /// turn), not after every datagram: it looks at every connection of the room.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.participants
            .values()
            .flat_map(|p| {
                p.conns()
                    .map(|c| c.next_timeout)
                    .chain(p.keyframe_timeout())
            })
            .chain(self.speakers.poll_timeout())
            .chain(self.next_health)
            .chain(self.next_allocation)
            .chain(self.next_overflow_check)
            .min()
    }

    // ---- inputs ----

    pub fn handle_command(&mut self, now: Instant, cmd: Command, ctx: &mut Ctx) {
        let re = command_name(&cmd);
        let result = match cmd {
            Command::Join { participant } => {
                self.handle_join(participant, ctx);
                self.adapt_soon(now);
                Ok(())
            }
            Command::Role { participant, host } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.host = host;
                    self.adapt_soon(now);
                }
                Ok(())
            }
            Command::Publish {
                participant,
                offer,
                tracks,
            } => self
                .handle_publish(now, participant, &offer, tracks, ctx)
                .map_err(|e| (participant, e)),
            Command::View { participant, tiles } => {
                self.handle_view(participant, &tiles);
                self.adapt_soon(now);
                Ok(())
            }
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
            Command::Resume { participant, fresh } => {
                self.handle_resume(now, participant, fresh, ctx);
                Ok(())
            }
            Command::IceRestart { participant } => self
                .handle_ice_restart(now, participant, ctx)
                .map_err(|e| (participant, e)),
            Command::SubscribeFailed { participant } => {
                self.handle_subscribe_failed(participant, ctx);
                Ok(())
            }
            Command::Leave { participant } => {
                if let Some(p) = self.participants.remove(&participant) {
                    unroute_participant(&p, ctx);
                    self.speakers.handle_leave(participant, now);
                    self.streams_changed = true;
                }
                Ok(())
            }
            Command::Close => {
                self.close(ctx);
                Ok(())
            }
            #[cfg(any(test, feature = "fault-injection"))]
            Command::Fault => panic!("a fault injected into room {}", self.id),
        };
        if let Err((participant, error)) = result {
            self.emit(participant, SfuEvent::Error { error, re }, ctx);
        }
        self.drive(now, ctx);
    }

    /// A datagram the worker routed to one of this room's connections.
    pub fn handle_receive(&mut self, key: &ConnKey, input: Input, ctx: &mut Ctx) {
        let Input::Receive(now, ref recv) = input else {
            return;
        };
        let source = recv.source;
        let Some(conn) = conn_of(&mut self.participants, key.participant, key.direction) else {
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
        conn.last_input = now;
        conn.handle_source(source, ctx);
        // Only what has input is polled now; what the forwarding wrote goes out at the
        // worker's flush (`Worker::poll_output`), with whatever else the batch wrote.
        // Every input ends in a poll of all that it touched, so this connection is the only
        // one with work: when its poll brings no event (most feedback from a subscriber),
        // nothing else needs looking at.
        let (id, dir) = (key.participant, key.direction);
        self.dead_seen |= !poll_conn(conn, now, id, dir, &mut self.events, ctx);
        self.last_now = now;
        if self.events.is_empty() && !self.streams_changed && !self.dead_seen {
            return;
        }
        self.drive_with(now, ctx, false);
    }

    /// Whether packets were written that a flush must send.
    pub fn needs_flush(&self) -> bool {
        self.needs_flush
    }

    /// Polls every connection with something to send.
    pub fn flush(&mut self, ctx: &mut Ctx) {
        let now = self.last_now;
        self.drive(now, ctx);
    }

    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx) {
        if self.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        for p in self.participants.values_mut() {
            ctx.stats.keyframe_requests += p.handle_keyframe_timeouts(now) as u64;
            let id = p.id;
            for conn in p.conns_mut() {
                if conn.next_timeout <= now {
                    conn.give_timeout(now, ctx);
                    // Polled at once, not after every other connection's timeout: a timeout
                    // can make str0m queue a sender report and a description for every stream
                    // of the connection (about 31 KB each for the description), freed only as
                    // they are sent; with all connections queued at once that was the room's
                    // largest use of memory (docs/architecture.md, "Polling once per batch").
                    let dir = conn.key.direction;
                    self.dead_seen |= !poll_conn(conn, now, id, dir, &mut self.events, ctx);
                }
            }
        }
        self.announce_speakers(now, ctx);
        self.rate_connections(now, ctx);
        self.watch_overflow(now, ctx);
        if self.next_allocation.is_some_and(|t| t <= now) {
            self.adapt(now, ctx);
        }
        self.drive(now, ctx);
    }

    /// Frees everything: every connection's routes, and the participants.
    pub fn close(&mut self, ctx: &mut Ctx) {
        let participants = std::mem::take(&mut self.participants);
        for p in participants.values() {
            unroute_participant(p, ctx);
        }
        self.speakers = Speakers::default();
        self.next_health = None;
        self.next_allocation = None;
        self.next_overflow_check = None;
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
        let stream = StreamKey {
            publisher: participant,
            source,
        };
        if !open {
            // Nothing passes now; when it opens again each slot starts over from a packet of
            // the source (a keyframe for video) with its numbers continuing, not skipping the
            // closed time's sequence numbers.
            self.hold_stream(stream);
        }
        if source == Source::Microphone {
            if !open {
                self.speakers.handle_mute(participant, now);
            }
            // A voice opened counts in every subscriber's budget from the next decision,
            // soon (a muted one counts nothing: room::adapt, `plans`).
            self.adapt_soon(now);
            return;
        }
        if open {
            // Subscribers missed frames the next delta frame refers to: they wait for a
            // keyframe, and the publisher is asked for one at once (within the limiter).
            self.request_keyframe(stream, None, now, ctx);
        }
    }

    /// The participant's signaling is back on a new socket. Nothing of its media changes
    /// unless its page was reloaded (`fresh`): then its peer connections are gone, and its
    /// subscribe connection is rebuilt (its publish connection is replaced by the new page's
    /// first publish).
    fn handle_resume(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        fresh: bool,
        ctx: &mut Ctx,
    ) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        ctx.stats.resumes += 1;
        // What the old socket may have swallowed goes again at the next allocation: what is
        // paused, and which encodings to switch off.
        p.down.told = None;
        for track in p.up.iter_mut().flat_map(|u| u.tracks.iter_mut()) {
            // Unknown: sent again whatever it is, all on included (docs/protocol.md).
            track.told_active = Some(Vec::new());
            if let Some(cap) = &mut track.capped {
                cap.retell = true;
            }
        }
        self.adapt_soon(now);
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        if fresh {
            subscribe::reset(p, ctx);
            if let Some(up) = &mut p.up {
                up.orphaned_at = Some(now);
            }
            self.streams_changed = true;
            return;
        }
        // The old socket may have swallowed the outstanding offer: send it again. A client
        // that did answer it answers the same offer again, which changes nothing.
        if let Some(offer) = p.down.offered.clone() {
            let event = SfuEvent::SubscribeOffer {
                sdp: offer.sdp,
                tracks: offer.tracks,
                reset: offer.reset,
            };
            self.emit(participant, event, ctx);
        }
    }

    fn handle_remote_candidate(&mut self, p: ParticipantId, dir: Direction, candidate: &str) {
        let candidate = candidate.trim().trim_start_matches("a=");
        if candidate.is_empty() {
            return;
        }
        let Ok(c) = str0m::Candidate::from_sdp_string(candidate) else {
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
        self.drive_with(now, ctx, true);
        self.needs_flush = false;
    }

    /// [`Room::drive`], polling written-to connections too only if `flush`.
    fn drive_with(&mut self, now: Instant, ctx: &mut Ctx, flush: bool) {
        loop {
            self.poll_conns(now, ctx, flush);
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
                self.fanout = None;
            }
        }
        if self.next_health.is_none() && !self.participants.is_empty() {
            self.next_health = Some(now + health::RATE_EVERY);
        }
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

    fn poll_conns(&mut self, now: Instant, ctx: &mut Ctx, flush: bool) {
        for p in self.participants.values_mut() {
            let id = p.id;
            for (dir, conn) in [
                (Direction::Publish, p.up.as_mut().map(|u| &mut u.conn)),
                (Direction::Subscribe, p.down.conn.as_mut()),
            ] {
                let Some(conn) = conn else { continue };
                if conn.dirty || (flush && conn.written) {
                    self.dead_seen |= !poll_conn(conn, now, id, dir, &mut self.events, ctx);
                } else if conn.written {
                    self.needs_flush = true;
                }
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
            (Direction::Publish, Event::RtpPacket(pkt)) => self.forward(participant, &pkt, ctx),
            (Direction::Subscribe, Event::KeyframeRequest(req)) => {
                self.handle_keyframe_request(now, participant, req.mid, ctx);
            }
            (Direction::Subscribe, Event::Connected) => {
                self.handle_subscriber_connected(now, participant, ctx);
            }
            (Direction::Publish, Event::MediaIngressStats(s)) => {
                self.handle_ingress_stats(participant, &s);
            }
            (Direction::Subscribe, Event::MediaEgressStats(s)) => {
                self.handle_egress_stats(participant, &s);
            }
            (
                Direction::Subscribe,
                Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }),
            ) => {
                self.handle_estimate(now, participant, estimate.as_u64());
            }
            (_, Event::IceConnectionStateChange(state)) => {
                tracing::debug!(%participant, ?direction, ?state, "ice state");
            }
            _ => {}
        }
    }

    // ---- helpers ----

    fn conn_mut(&mut self, p: ParticipantId, dir: Direction) -> Option<&mut Conn> {
        conn_of(&mut self.participants, p, dir)
    }

    fn emit(&self, participant: ParticipantId, event: SfuEvent, ctx: &mut Ctx) {
        ctx.out.push_back(Output::Event {
            room: self.id.clone(),
            participant,
            event,
        });
    }

    fn conn_key(&self, participant: ParticipantId, direction: Direction) -> ConnKey {
        ConnKey {
            room: self.id.clone(),
            participant,
            direction,
        }
    }

    /// Drops connections str0m has given up on (DTLS failed or closed by the peer, a fatal
    /// input). A dead publish connection takes its streams with it; a dead subscribe
    /// connection is rebuilt, and the client told to start a new one (`reset`).
    fn remove_dead_conns(&mut self, ctx: &mut Ctx) {
        if !std::mem::take(&mut self.dead_seen) {
            return;
        }
        for p in self.participants.values_mut() {
            if p.up.as_ref().is_some_and(|u| !u.conn.rtc.is_alive()) {
                let up = p.up.take().expect("checked");
                up.conn.unroute(ctx);
                ctx.stats.conns_failed += 1;
                tracing::info!(participant = %p.id, "publish connection closed");
                self.streams_changed = true;
            }
            if p.down.conn.as_ref().is_some_and(|c| !c.rtc.is_alive()) {
                ctx.stats.conns_failed += 1;
                tracing::info!(participant = %p.id, "subscribe connection closed; rebuilding it");
                subscribe::reset(p, ctx);
                self.streams_changed = true;
            }
        }
    }
}

/// A participant's connection in one direction, borrowing only the participants.
fn conn_of(
    participants: &mut BTreeMap<ParticipantId, Participant>,
    p: ParticipantId,
    dir: Direction,
) -> Option<&mut Conn> {
    let p = participants.get_mut(&p)?;
    match dir {
        Direction::Publish => p.up.as_mut().map(|u| &mut u.conn),
        Direction::Subscribe => p.down.conn.as_mut(),
    }
}

/// The wire name of the client message behind a command, for the `re` of its errors.
fn command_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Publish { .. } => "publish",
        Command::View { .. } => "view",
        Command::SubscribeAnswer { .. } => "subscribe_answer",
        Command::IceRestart { .. } => "ice_restart",
        Command::SubscribeFailed { .. } => "subscribe_failed",
        Command::RemoteCandidate { .. } => "candidate",
        Command::Resume { .. } => "resume",
        Command::Join { .. } => "join",
        Command::Gate { .. } | Command::Role { .. } | Command::Leave { .. } | Command::Close => "",
        #[cfg(any(test, feature = "fault-injection"))]
        Command::Fault => "",
    }
}

fn unroute_participant(p: &Participant, ctx: &mut Ctx) {
    for conn in p.conns() {
        conn.unroute(ctx);
    }
}

/// Timeouts a connection may take within one poll: enough for its pacer to release a
/// round's worth of packets, bounded so one connection cannot hold the worker.
const DRAIN_TIMEOUTS: u32 = 512;

/// How far ahead a timeout may be and still be handled at once: str0m's pacer asks for its
/// next a microsecond later when it cannot go on at the same instant (a probe, padding; a
/// burst of media goes without one, vendor/str0m/AULA.md).
const DRAIN_AHEAD: Duration = Duration::from_millis(1);

/// How long str0m's delay-based estimator waits when it asks to be woken at the instant it was
/// last woken. While its trend is stale (no transport-wide feedback within two smoothed round
/// trips) it asks to be woken one round trip later, only to find it stale again; with a round
/// trip of nothing (the simulated network) that is at once, again and again, each a full pass
/// over the connection's streams. Only that case waits: any later wake-up it asks for is
/// taken as asked, since it may hide the pacer's next one (a wait of 5 ms after any timeout
/// made the drop in sfu/tests/adaptation.rs fail 2 runs in 6). Its estimate moves on feedback
/// and on a timer of 25 ms, so this changes no estimate (docs/benchmarks.md, "What a timeout
/// costs").
const BWE_TICK: Duration = Duration::from_millis(2);

/// Polls one connection until it waits, queueing its transmits and collecting its events;
/// false if str0m has given up on it.
///
/// A timeout that is due (within [`DRAIN_AHEAD`] of `now`) is handled here and polling goes
/// on, up to [`DRAIN_TIMEOUTS`] times: str0m's pacer lets a probe's or padding's packets out
/// one per timeout, and its own timers come due while media waits, so a connection left to
/// the worker's next round could send one packet per round while its queues (and the
/// server's memory) grow with every open microphone.
fn poll_conn(
    conn: &mut Conn,
    now: Instant,
    id: ParticipantId,
    dir: Direction,
    events: &mut Vec<(ParticipantId, Direction, Event)>,
    ctx: &mut Ctx,
) -> bool {
    conn.written = false;
    let mut drained = 0;
    loop {
        if !conn.rtc.is_alive() {
            conn.dirty = false;
            return false;
        }
        match conn.rtc.poll_output() {
            Ok(str0m::Output::Timeout(t)) => {
                let t = if t <= conn.timeout_handled
                    && conn.rtc.last_timeout_reason() == Reason::BweDelayControl
                {
                    conn.timeout_handled + BWE_TICK
                } else {
                    t
                };
                if t <= now + DRAIN_AHEAD && drained < DRAIN_TIMEOUTS {
                    drained += 1;
                    conn.give_timeout(t.max(now), ctx);
                    continue;
                }
                conn.next_timeout = t;
                conn.dirty = false;
                // A connection the peer closed ends here, in the poll that drains its close.
                return conn.rtc.is_alive();
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
