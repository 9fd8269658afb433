//! The task behind a bot: join (waiting in the lobby if the room has one), say which sources
//! are on, publish, answer offers, and then a loop of five wake-ups: a command from the
//! handle, a signaling message, a datagram on either connection, or the timer (the earliest of
//! both `Rtc` timeouts and the next frame due).
//!
//! Every `Rtc` mutation (a datagram, a timeout, a written frame, an SDP change) is followed by
//! a drain of its output before the next, as str0m's run-loop contract asks.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::{Event, IceConnectionState, RtcError};
use tokio::sync::mpsc;

use crate::bot::{BotConfig, BotError, BotReport, Command};
use crate::peer::Peer;
use crate::protocol::{Participant, Pc};
use crate::publish::Publisher;
use crate::signaling::{SignalEvent, Signaling};
use crate::stats::BotStats;
use crate::target::Target;

/// Largest UDP datagram read; str0m never sends more than its MTU (1150 by default).
const DATAGRAM_MAX: usize = 2000;
/// At most one PLI per remote video track per this interval, like browsers throttle them.
const PLI_INTERVAL: Duration = Duration::from_secs(1);
/// The loop wakes at least this often even if nothing is due, so a far-future str0m timeout
/// never turns into an overlong sleep.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// How long a leaving bot waits for the server to close the WebSocket.
const LEAVE_WAIT: Duration = Duration::from_secs(1);

/// The whole life of a bot; ends when told to leave or when something fatal happens.
pub(crate) async fn run(config: BotConfig, mut commands: mpsc::Receiver<Command>) -> BotReport {
    let name = config.name.clone();
    let mut bot = match Bot::bind(config).await {
        Ok(bot) => bot,
        Err(e) => {
            let stats = BotStats {
                name,
                ..BotStats::default()
            };
            return BotReport {
                stats,
                error: Some(e),
            };
        }
    };
    let result = bot.run(&mut commands).await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "bot ended");
    }
    bot.publish.close();
    bot.subscribe.close();
    BotReport {
        stats: bot.snapshot(),
        error: result.err(),
    }
}

/// What woke the join loop.
enum JoinWake {
    Command(Option<Command>),
    Signal(Result<SignalEvent, BotError>),
    Deadline,
}

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    Signal(Result<SignalEvent, BotError>),
    Udp(Pc, io::Result<(usize, std::net::SocketAddr)>),
    Timer,
}

/// Which remote track a subscribe m-line carries.
struct DownTrack {
    mid: Mid,
    /// Index into `BotStats::remotes`.
    remote: usize,
    kind: MediaKind,
    last_pli: Option<Instant>,
}

struct Bot {
    config: BotConfig,
    start: Instant,
    stats: BotStats,
    publish: Peer,
    subscribe: Peer,
    publisher: Option<Publisher>,
    /// Our publish offer, until the answer comes.
    pending_publish: Option<SdpPendingOffer>,
    down_tracks: Vec<DownTrack>,
    /// The latest server `error` after `joined` or `lobby`: if the server closes the socket
    /// right after (removed, denied), it is why the bot ends.
    last_error: Option<(String, String)>,
}

impl Bot {
    async fn bind(config: BotConfig) -> Result<Bot, BotError> {
        let ip = local_ip(&config);
        let publish = Peer::bind(Pc::Publish, ip).await?;
        let subscribe = Peer::bind(Pc::Subscribe, ip).await?;
        Ok(Bot {
            stats: BotStats {
                name: config.name.clone(),
                ..BotStats::default()
            },
            config,
            start: Instant::now(),
            publish,
            subscribe,
            publisher: None,
            pending_publish: None,
            down_tracks: Vec::new(),
            last_error: None,
        })
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Result<(), BotError> {
        let Some(mut signal) = self.join_or_leave(commands).await? else {
            return Ok(());
        };
        if self.config.publishes() {
            self.send_media_state(&mut signal).await?;
            self.start_publish(&mut signal).await?;
        }
        let result = self.run_loop(&mut signal, commands).await;
        if result.is_ok() {
            signal.leave(LEAVE_WAIT).await;
        }
        result
    }

    /// Joins within the join timeout, waiting in the lobby if there is one, while still
    /// answering commands, so a snapshot does not wait for the server and a leave ends the
    /// attempt (then `None`).
    async fn join_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<Option<Signaling>, BotError> {
        let timeout = self.config.join_timeout;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        // A copy, so that commands may change the bot while it connects.
        let config = self.config.clone();
        let connecting = Signaling::connect(&config, self.start);
        tokio::pin!(connecting);
        let (signal, ws_open) = loop {
            let cmd = tokio::select! {
                connected = &mut connecting => break connected?,
                cmd = commands.recv() => cmd,
                () = &mut deadline => return Err(BotError::JoinTimeout(timeout)),
            };
            if !self.handle_command(None, cmd).await {
                return Ok(None);
            }
        };
        self.stats.ws_open = Some(ws_open);
        self.admitted_or_leave(signal, commands, deadline).await
    }

    /// The second half of [`Bot::join_or_leave`]: the socket is open and `join` sent; waits
    /// for `joined` until `deadline`.
    async fn admitted_or_leave(
        &mut self,
        mut signal: Signaling,
        commands: &mut mpsc::Receiver<Command>,
        mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Result<Option<Signaling>, BotError> {
        loop {
            let wake = tokio::select! {
                cmd = commands.recv() => JoinWake::Command(cmd),
                event = signal.recv() => JoinWake::Signal(event),
                () = &mut deadline => JoinWake::Deadline,
            };
            match wake {
                JoinWake::Command(cmd) => {
                    if !self.handle_command(Some(&mut signal), cmd).await {
                        signal.leave(LEAVE_WAIT).await;
                        return Ok(None);
                    }
                }
                JoinWake::Signal(event) => {
                    if self.handle_join_event(event?)? {
                        return Ok(Some(signal));
                    }
                }
                JoinWake::Deadline => {
                    return Err(BotError::JoinTimeout(self.config.join_timeout));
                }
            }
        }
    }

    /// One event before `joined`; true once joined. An error before `joined` or `lobby` is
    /// the answer to `join`.
    fn handle_join_event(&mut self, event: SignalEvent) -> Result<bool, BotError> {
        let at = self.elapsed();
        match event {
            SignalEvent::Joined {
                you,
                participants,
                session,
            } => {
                self.stats.joined = Some(at);
                // An error answered in the lobby is no reason for a later close.
                self.last_error = None;
                self.stats.id = Some(you.id.clone());
                // Janus has no roles; its ticket's secret names the role instead.
                self.stats.role = Some(if you.role.is_empty() {
                    self.config.secret.clone()
                } else {
                    you.role.clone()
                });
                self.stats.you = Some(you);
                self.stats.session = session.or(self.stats.session.take());
                for p in participants {
                    self.handle_participant(p);
                }
                return Ok(true);
            }
            SignalEvent::Lobby { session } => {
                self.stats.lobby.get_or_insert(at);
                self.stats.session = session;
            }
            SignalEvent::Refused { code, message } if self.stats.lobby.is_none() => {
                return Err(BotError::Refused { code, message });
            }
            SignalEvent::Closed(why) => return Err(self.closed(why)),
            // In the lobby: the answers to what a test sent, a room that ended.
            other => self.handle_news(other),
        }
        Ok(false)
    }

    /// Why the bot ends when the server closes the socket: the error it sent just before,
    /// if it closed with an error's code (4000 and up), else the close itself.
    fn closed(&mut self, why: Option<(u16, String)>) -> BotError {
        let by_error = why.as_ref().is_some_and(|(code, _)| *code >= 4000);
        match self.last_error.take() {
            Some((code, message)) if by_error => BotError::Refused { code, message },
            _ => BotError::Closed(why),
        }
    }

    /// Tells the server which sources the bot publishes, if that is not what `joined` says it
    /// has on: in a class, participants join muted, and the SFU forwards only what is on.
    async fn send_media_state(&mut self, signal: &mut Signaling) -> Result<(), BotError> {
        let want = (self.config.audio.is_some(), self.config.video.is_some());
        let held = self.stats.you.as_ref().map(|you| (you.audio, you.video));
        if held == Some(want) {
            return Ok(());
        }
        signal.media_state(want.0, want.1).await
    }

    async fn start_publish(&mut self, signal: &mut Signaling) -> Result<(), BotError> {
        let mut rtc = self.publish.new_rtc(Instant::now())?;
        let (audio, video, seed) = (self.config.audio, self.config.video, self.config.seed);
        let (publisher, offer, pending, tracks) = Publisher::offer(&mut rtc, audio, video, seed)
            .ok_or_else(|| BotError::Protocol("publish offer had no media".into()))?;
        self.publish.set_rtc(rtc);
        self.publisher = Some(publisher);
        self.pending_publish = Some(pending);
        self.drain(Pc::Publish, Instant::now());
        let sdp = offer.to_sdp_string();
        let candidate = self.publish.candidate()?.to_sdp_string();
        signal.publish(sdp, tracks, candidate).await
    }

    async fn run_loop(
        &mut self,
        signal: &mut Signaling,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(), BotError> {
        let mut pub_buf = vec![0u8; DATAGRAM_MAX];
        let mut sub_buf = vec![0u8; DATAGRAM_MAX];
        let sleep = tokio::time::sleep(MAX_SLEEP);
        tokio::pin!(sleep);
        loop {
            sleep.as_mut().reset(self.next_deadline().into());
            let wake = tokio::select! {
                cmd = commands.recv() => Wake::Command(cmd),
                msg = signal.recv() => Wake::Signal(msg),
                r = self.publish.recv(&mut pub_buf) => Wake::Udp(Pc::Publish, r),
                r = self.subscribe.recv(&mut sub_buf) => Wake::Udp(Pc::Subscribe, r),
                () = &mut sleep => Wake::Timer,
            };
            let now = Instant::now();
            match wake {
                Wake::Command(cmd) => {
                    if !self.handle_command(Some(&mut *signal), cmd).await {
                        return Ok(());
                    }
                }
                Wake::Signal(event) => self.handle_signal(signal, event?).await?,
                Wake::Udp(pc, Ok((n, source))) => {
                    let buf = if pc == Pc::Publish {
                        &pub_buf
                    } else {
                        &sub_buf
                    };
                    let result = self.peer(pc).handle_datagram(now, source, &buf[..n]);
                    self.after_mutation(pc, now, result);
                }
                Wake::Udp(pc, Err(e)) => tracing::debug!(?pc, error = %e, "udp receive failed"),
                Wake::Timer => self.handle_timer(now),
            }
        }
    }

    /// Does what the handle asks; false when that is to leave (or the handle is gone).
    /// `signal` is `None` while the socket is still opening.
    async fn handle_command(
        &mut self,
        signal: Option<&mut Signaling>,
        cmd: Option<Command>,
    ) -> bool {
        match cmd {
            None | Some(Command::Leave) => return false,
            Some(Command::Snapshot(tx)) => {
                let _ = tx.send(self.snapshot());
            }
            Some(Command::Send(msg, tx)) => {
                let sent = match signal {
                    Some(signal) => signal.send_json(&msg).await.is_ok(),
                    None => false,
                };
                let _ = tx.send(sent);
            }
            Some(Command::LastMessage(ty, tx)) => {
                let _ = tx.send(signal.and_then(|s| s.last_message(&ty)));
            }
            Some(Command::AudioLevel(level)) => {
                if let Some(audio) = &mut self.config.audio {
                    audio.level_dbov = level;
                }
                if let Some(publisher) = &mut self.publisher {
                    publisher.set_audio_level(level);
                }
            }
        }
        true
    }

    fn next_deadline(&self) -> Instant {
        let cap = Instant::now() + MAX_SLEEP;
        let media = self.publisher.as_ref().and_then(Publisher::next_due);
        [self.publish.timeout(), self.subscribe.timeout(), media]
            .into_iter()
            .flatten()
            .fold(cap, Instant::min)
    }

    fn snapshot(&self) -> BotStats {
        let mut stats = self.stats.clone();
        stats.sent.udp_send_drops = self.publish.send_drops() + self.subscribe.send_drops();
        stats.datagrams_received = self.subscribe.received();
        stats
    }

    fn peer(&mut self, pc: Pc) -> &mut Peer {
        match pc {
            Pc::Publish => &mut self.publish,
            Pc::Subscribe => &mut self.subscribe,
        }
    }

    /// Drains after a mutation, or gives the connection up if the mutation failed.
    fn after_mutation(&mut self, pc: Pc, now: Instant, result: Result<(), RtcError>) {
        match result {
            Ok(()) => self.drain(pc, now),
            Err(e) => self.fail_peer(pc, e),
        }
    }

    /// Gives a connection up after str0m refused input or failed; the bot stays in the room.
    fn fail_peer(&mut self, pc: Pc, e: RtcError) {
        tracing::debug!(?pc, error = %e, "connection failed");
        self.stats.push_error(format!("{pc:?} connection: {e}"));
        self.peer(pc).close();
        if pc == Pc::Publish {
            // Its frame clocks would otherwise stay due forever and spin the loop.
            self.publisher = None;
        }
    }

    /// Polls one `Rtc` until it wants a timeout, handling each event on the way.
    fn drain(&mut self, pc: Pc, now: Instant) {
        loop {
            match self.peer(pc).poll_event() {
                Ok(Some(event)) => self.handle_event(pc, now, event),
                Ok(None) => return,
                Err(e) => return self.fail_peer(pc, e),
            }
        }
    }

    fn handle_timer(&mut self, now: Instant) {
        for pc in [Pc::Publish, Pc::Subscribe] {
            let result = self.peer(pc).handle_timeout(now);
            self.after_mutation(pc, now, result);
        }
        let Some(publisher) = &mut self.publisher else {
            return;
        };
        while let Some(rtc) = self.publish.rtc() {
            match publisher.write_due(rtc, now, &mut self.stats.sent) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => return self.fail_peer(Pc::Publish, e),
            }
            // Inline drain: `self.drain` would borrow the publisher too.
            loop {
                match self.publish.poll_event() {
                    Ok(Some(event)) => handle_publish_event(
                        &mut self.stats,
                        publisher,
                        &mut self.publish,
                        self.start,
                        now,
                        event,
                    ),
                    Ok(None) => break,
                    Err(e) => return self.fail_peer(Pc::Publish, e),
                }
            }
        }
    }

    fn handle_event(&mut self, pc: Pc, now: Instant, event: Event) {
        match pc {
            Pc::Publish => {
                if let Some(publisher) = &mut self.publisher {
                    let (stats, peer, start) = (&mut self.stats, &mut self.publish, self.start);
                    handle_publish_event(stats, publisher, peer, start, now, event);
                }
            }
            Pc::Subscribe => self.handle_subscribe_event(now, event),
        }
    }

    fn handle_subscribe_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => {
                let at = now.duration_since(self.start);
                if is_connected(state) {
                    self.stats.subscribe_ice_connected.get_or_insert(at);
                } else if state == IceConnectionState::Disconnected {
                    self.stats
                        .push_error("Subscribe connection: ice disconnected".into());
                }
            }
            Event::MediaData(data) => self.handle_media(now, &data),
            _ => {}
        }
    }

    fn handle_media(&mut self, now: Instant, data: &MediaData) {
        let received_us = crate::media::unix_micros(std::time::SystemTime::now());
        let at = now.duration_since(self.start);
        let Some(track) = self.down_tracks.iter_mut().find(|t| t.mid == data.mid) else {
            tracing::trace!(mid = %data.mid, "media on an unmapped mid");
            return;
        };
        self.stats.first_media.get_or_insert(at);
        let remote = &mut self.stats.remotes[track.remote];
        let stream = match track.kind {
            MediaKind::Audio => &mut remote.audio,
            MediaKind::Video => &mut remote.video,
        };
        let stamp = crate::media::Stamp::read_from(&data.data);
        stream.record(
            at,
            data.data.len(),
            data.is_keyframe(),
            stamp.map(|s| s.seq),
        );
        if let Some(stamp) = stamp {
            stream
                .delay
                .record(received_us.saturating_sub(stamp.sent_us));
        }
        // A gap means a lost frame; ask for a keyframe as a browser's decoder would.
        let throttled = track.last_pli.is_some_and(|t| now < t + PLI_INTERVAL);
        if track.kind == MediaKind::Video && !data.contiguous && !throttled {
            track.last_pli = Some(now);
            let mid = track.mid;
            if let Some(mut writer) = self.subscribe.rtc().and_then(|rtc| rtc.writer(mid)) {
                let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
            }
        }
    }

    async fn handle_signal(
        &mut self,
        signal: &mut Signaling,
        event: SignalEvent,
    ) -> Result<(), BotError> {
        match event {
            SignalEvent::PublishAnswer { sdp } => self.handle_publish_answer(&sdp)?,
            SignalEvent::SubscribeOffer { sdp, tracks } => {
                let answer = self.handle_subscribe_offer(&sdp, &tracks)?;
                let candidate = if self.stats.subscribe_offers == 1 {
                    Some(self.subscribe.candidate()?.to_sdp_string())
                } else {
                    None
                };
                signal
                    .subscribe_answer(answer.to_sdp_string(), candidate)
                    .await?;
            }
            SignalEvent::Closed(why) => return Err(self.closed(why)),
            other => self.handle_news(other),
        }
        Ok(())
    }

    /// What the server says about the room, the same in the lobby and after `joined`: noted
    /// in the stats.
    fn handle_news(&mut self, event: SignalEvent) {
        let at = self.elapsed();
        match event {
            SignalEvent::Participant(p) => self.handle_participant(p),
            SignalEvent::Left { id } => {
                let i = self.stats.remote_index(&id);
                self.stats.remotes[i].left = Some(at);
            }
            SignalEvent::Speakers { speaking, dominant } => {
                self.stats.speakers_events += 1;
                self.stats.speaking = speaking;
                self.stats.dominant = dominant;
            }
            SignalEvent::RoomEnded { reason } => self.stats.room_ended = Some(reason),
            SignalEvent::Problem(text) => self.stats.push_error(text),
            SignalEvent::Refused { code, message } => {
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
    fn handle_participant(&mut self, p: Participant) {
        if self.stats.id.as_deref() == Some(p.id.as_str()) {
            self.stats.you = Some(p);
            return;
        }
        let i = self.stats.remote_index(&p.id);
        let remote = &mut self.stats.remotes[i];
        remote.name = Some(p.name.clone());
        remote.participant = Some(p);
    }

    fn handle_publish_answer(&mut self, sdp: &str) -> Result<(), BotError> {
        let Some(pending) = self.pending_publish.take() else {
            return Err(BotError::Protocol(
                "publish_answer without a publish".into(),
            ));
        };
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(RtcError::from)?;
        let rtc = self.publish.rtc().ok_or_else(|| {
            BotError::Protocol("publish_answer after the publish connection failed".into())
        })?;
        let result = rtc.sdp_api().accept_answer(pending, answer);
        let now = Instant::now();
        self.after_mutation(Pc::Publish, now, result);
        Ok(())
    }

    fn handle_subscribe_offer(
        &mut self,
        sdp: &str,
        tracks: &[crate::protocol::SubscribeTrack],
    ) -> Result<SdpAnswer, BotError> {
        let now = Instant::now();
        let offer = SdpOffer::from_sdp_string(sdp).map_err(RtcError::from)?;
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

    /// Replaces the mid -> participant map with the offer's `tracks`, keeping PLI throttles.
    fn map_tracks(&mut self, tracks: &[crate::protocol::SubscribeTrack]) {
        let old = std::mem::take(&mut self.down_tracks);
        for t in tracks {
            let kind = match t.kind.as_str() {
                "audio" => MediaKind::Audio,
                "video" => MediaKind::Video,
                other => {
                    self.stats.push_error(format!("track kind {other:?}"));
                    continue;
                }
            };
            let mid = Mid::from(t.mid.as_str());
            let remote = self.stats.remote_index(&t.participant);
            let last_pli = old.iter().find(|o| o.mid == mid).and_then(|o| o.last_pli);
            self.down_tracks.push(DownTrack {
                mid,
                remote,
                kind,
                last_pli,
            });
        }
    }
}

/// The address to bind the UDP sockets on. Janus never gathers ICE candidates on loopback, so
/// a Janus bot told to use loopback uses this machine's own address, where Janus does.
fn local_ip(config: &BotConfig) -> IpAddr {
    if config.target == Target::Janus && config.local_ip.is_loopback() {
        return crate::peers::media_ip().unwrap_or(config.local_ip);
    }
    config.local_ip
}

fn is_connected(state: IceConnectionState) -> bool {
    matches!(
        state,
        IceConnectionState::Connected | IceConnectionState::Completed
    )
}

/// Handles an event of the publish connection. A free function so the timer can call it while
/// it holds the publisher.
fn handle_publish_event(
    stats: &mut BotStats,
    publisher: &mut Publisher,
    peer: &mut Peer,
    start: Instant,
    now: Instant,
    event: Event,
) {
    match event {
        Event::IceConnectionStateChange(state) => {
            if is_connected(state) {
                stats
                    .publish_ice_connected
                    .get_or_insert(now.duration_since(start));
            } else if state == IceConnectionState::Disconnected {
                stats.push_error("Publish connection: ice disconnected".into());
            }
        }
        Event::Connected => {
            let rtc = peer.rtc().expect("events only come from a live rtc");
            if !publisher.handle_connected(rtc, now) {
                stats.push_error("publish answer lacks opus or vp8".into());
            }
        }
        Event::KeyframeRequest(req) => publisher.handle_keyframe_request(&req, &mut stats.sent),
        _ => {}
    }
}
