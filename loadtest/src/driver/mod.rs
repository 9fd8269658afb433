//! The task behind a bot: join (waiting in the lobby if the room has one), say which sources
//! are on, publish, answer offers, and then a loop of six wake-ups: a command from the handle,
//! a signaling message, a datagram on either connection, a new socket connected for a resume,
//! or the timer (the earliest of both `Rtc` timeouts, the next frame due, and the end of a
//! resume's pause or its deadline).
//!
//! Every `Rtc` mutation (a datagram, a timeout, a written frame, an SDP change) is followed by
//! a drain of its output before the next, as str0m's run-loop contract asks.
//!
//! # Layout
//! - `mod.rs`: the bot's state, the loop, commands, and the two `Rtc`s' plumbing.
//! - `join`: `join` to `joined` (the server's queue and the lobby included), and what
//!   `joined` tells.
//! - `queue`: the join's deadline, keep-alive and retry while the server's queue holds it
//!   (sans-IO).
//! - `messages`: what the server says once joined: offers, answers, the room's news.
//! - `receive`: events of the subscribe connection: media, gaps, keyframe requests.
//! - `away`: leaving and coming back ([`Churn`]): resume and rejoin.
//! - `view`: the page layout the bot tells the server (`view`).

mod away;
mod join;
mod messages;
mod queue;
mod receive;
mod view;

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::media::{MediaKind, Mid};
use str0m::{Event, IceConnectionState, RtcError};
use tokio::sync::mpsc;

use crate::bot::{BotConfig, BotError, BotReport, Churn, Command};
use crate::peer::Peer;
use crate::protocol::{Pc, PublishTrack};
use crate::publish::Publisher;
use crate::signaling::{SignalEvent, Signaling};
use crate::stats::BotStats;
use crate::target::Target;

use away::Away;
use view::ViewState;

pub(crate) use view::Layout;

/// Largest UDP datagram read; str0m never sends more than its MTU (1150 by default).
const DATAGRAM_MAX: usize = 2000;
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

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    Signal(Result<SignalEvent, BotError>),
    /// Boxed: a whole signaling connection, once per resume, beside every datagram's wake.
    Reconnected(Box<Result<Signaling, BotError>>),
    /// A datagram: its size, source and kernel arrival time (`Peer::recv`).
    Udp(Pc, io::Result<(usize, std::net::SocketAddr, Instant)>),
    Timer,
}

/// What the bot does after a command.
enum Flow {
    /// Goes on as it was.
    Go,
    /// Leaves and ends.
    Leave,
    /// Leaves and comes back.
    Churn(Churn, Duration),
}

/// Which remote track a subscribe m-line carries.
struct DownTrack {
    mid: Mid,
    /// Index into `BotStats::remotes`.
    remote: usize,
    /// Index into `BotStats::gap_logs`.
    log: usize,
    kind: MediaKind,
    last_pli: Option<Instant>,
}

struct Bot {
    config: BotConfig,
    start: Instant,
    stats: BotStats,
    /// The signaling socket; `None` before the first join and while away.
    signal: Option<Signaling>,
    publish: Peer,
    subscribe: Peer,
    publisher: Option<Publisher>,
    /// Our publish offer, until the answer comes.
    pending_publish: Option<SdpPendingOffer>,
    /// The same offer as sent, to send again after a resume if its answer never came.
    unanswered_publish: Option<(String, Vec<PublishTrack>)>,
    /// Whether the subscribe connection's candidate went out (with its first answer).
    subscribe_candidate_sent: bool,
    down_tracks: Vec<DownTrack>,
    /// The latest `joined`'s resume token (never logged).
    resume_token: Option<String>,
    /// Between dropping the socket for a resume and `joined` on the new one.
    away: Option<Away>,
    /// The latest server `error` after `joined` or `lobby`: if the server closes the socket
    /// right after (removed, denied), it is why the bot ends.
    last_error: Option<(String, String)>,
    /// The page layout last told to the server.
    view: ViewState,
}

impl Bot {
    async fn bind(config: BotConfig) -> Result<Bot, BotError> {
        let ip = local_ip(&config);
        let publish = Peer::bind(Pc::Publish, ip).await?;
        let subscribe = Peer::bind(Pc::Subscribe, ip).await?;
        let start = Instant::now();
        Ok(Bot {
            stats: BotStats {
                name: config.name.clone(),
                epoch: Some(start),
                ..BotStats::default()
            },
            config,
            start,
            signal: None,
            publish,
            subscribe,
            publisher: None,
            pending_publish: None,
            unanswered_publish: None,
            subscribe_candidate_sent: false,
            down_tracks: Vec::new(),
            resume_token: None,
            away: None,
            last_error: None,
            view: ViewState::default(),
        })
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Result<(), BotError> {
        if !self.join_or_leave(commands).await? {
            return Ok(());
        }
        self.start_media().await?;
        let result = self.run_loop(commands).await;
        if let (Ok(()), Some(signal)) = (&result, &mut self.signal) {
            signal.leave(LEAVE_WAIT).await;
        }
        result
    }

    /// After `joined` as a new participant: asks for its sources to be forwarded and
    /// publishes them; a bot that publishes nothing is back in the lesson at once.
    async fn start_media(&mut self) -> Result<(), BotError> {
        if !self.config.publishes() {
            let at = self.elapsed();
            self.stats.handle_back(at);
            return Ok(());
        }
        self.send_media_state().await?;
        self.start_publish().await
    }

    /// Tells the server which sources the bot publishes, if that is not what `joined` says it
    /// has on: in a class, participants join muted, and the SFU forwards only what is on.
    async fn send_media_state(&mut self) -> Result<(), BotError> {
        let want = (self.config.audio.is_some(), self.config.video.is_some());
        let held = self.stats.you.as_ref().map(|you| (you.audio, you.video));
        if held == Some(want) {
            return Ok(());
        }
        self.signal()?.media_state(want.0, want.1).await
    }

    async fn start_publish(&mut self) -> Result<(), BotError> {
        let mut rtc = self.publish.new_rtc(Instant::now())?;
        let (audio, video, seed) = (self.config.audio, self.config.video, self.config.seed);
        let (publisher, offer, pending, tracks) = Publisher::offer(&mut rtc, audio, video, seed)
            .ok_or_else(|| BotError::Protocol("publish offer had no media".into()))?;
        self.publish.set_rtc(rtc);
        self.publisher = Some(publisher);
        self.pending_publish = Some(pending);
        self.drain(Pc::Publish, Instant::now());
        let sdp = offer.to_sdp_string();
        self.unanswered_publish = Some((sdp.clone(), tracks.clone()));
        let candidate = self.publish.candidate()?.to_sdp_string();
        self.signal()?.publish(sdp, tracks, candidate).await
    }

    /// The socket, which is there whenever the bot acts on a server message.
    fn signal(&mut self) -> Result<&mut Signaling, BotError> {
        self.signal
            .as_mut()
            .ok_or_else(|| BotError::Protocol("no signaling socket".into()))
    }

    async fn run_loop(&mut self, commands: &mut mpsc::Receiver<Command>) -> Result<(), BotError> {
        let mut pub_buf = vec![0u8; DATAGRAM_MAX];
        let mut sub_buf = vec![0u8; DATAGRAM_MAX];
        let sleep = tokio::time::sleep(MAX_SLEEP);
        tokio::pin!(sleep);
        loop {
            sleep.as_mut().reset(self.next_deadline().into());
            let wake = tokio::select! {
                cmd = commands.recv() => Wake::Command(cmd),
                msg = next_signal(&mut self.signal) => Wake::Signal(msg),
                r = away::reconnected(&mut self.away) => Wake::Reconnected(Box::new(r)),
                r = self.publish.recv(&mut pub_buf) => Wake::Udp(Pc::Publish, r),
                r = self.subscribe.recv(&mut sub_buf) => Wake::Udp(Pc::Subscribe, r),
                () = &mut sleep => Wake::Timer,
            };
            let now = Instant::now();
            match wake {
                Wake::Command(cmd) => match self.handle_command(cmd, true).await {
                    Flow::Go => {}
                    Flow::Leave => return Ok(()),
                    Flow::Churn(Churn::Resume, pause) => self.drop_socket(now, pause),
                    Flow::Churn(Churn::Rejoin, pause) => {
                        if !self.rejoin(pause, commands).await? {
                            return Ok(());
                        }
                    }
                },
                Wake::Signal(event) => self.handle_signal(event?).await?,
                Wake::Reconnected(signal) => self.handle_reconnected((*signal)?),
                Wake::Udp(pc, Ok((n, source, arrival))) => {
                    let buf = if pc == Pc::Publish {
                        &pub_buf
                    } else {
                        &sub_buf
                    };
                    let result = self
                        .peer(pc)
                        .handle_datagram(now, arrival, source, &buf[..n]);
                    self.after_mutation(pc, now, result);
                }
                Wake::Udp(pc, Err(e)) => tracing::debug!(?pc, error = %e, "udp receive failed"),
                Wake::Timer => {
                    self.handle_timer(now);
                    self.handle_away_timer(now)?;
                    self.tell_view(now).await?;
                }
            }
        }
    }

    /// Does what the handle asks. `can_churn` is false while joining: a churn is refused then.
    async fn handle_command(&mut self, cmd: Option<Command>, can_churn: bool) -> Flow {
        match cmd {
            None | Some(Command::Leave) => return Flow::Leave,
            Some(Command::Snapshot(tx)) => {
                let _ = tx.send(self.snapshot());
            }
            Some(Command::Send(msg, tx)) => {
                let sent = match &mut self.signal {
                    Some(signal) => signal.send_json(&msg).await.is_ok(),
                    None => false,
                };
                let _ = tx.send(sent);
            }
            Some(Command::LastMessage(ty, tx)) => {
                let last = self.signal.as_ref().and_then(|s| s.last_message(&ty));
                let _ = tx.send(last);
            }
            Some(Command::View(policy)) => {
                self.config.view = policy;
                self.handle_view_change();
            }
            Some(Command::AudioLevel(level)) => {
                if let Some(audio) = &mut self.config.audio {
                    audio.level_dbov = level;
                }
                if let Some(publisher) = &mut self.publisher {
                    publisher.set_audio_level(level);
                }
            }
            Some(Command::Churn { how, pause, reply }) => {
                let ok = can_churn && self.may_churn(how);
                if let Some(reply) = reply {
                    let _ = reply.send(ok);
                }
                if ok {
                    return Flow::Churn(how, pause);
                }
                self.stats.churns_refused += 1;
            }
        }
        Flow::Go
    }

    fn next_deadline(&self) -> Instant {
        let cap = Instant::now() + MAX_SLEEP;
        let media = self.publisher.as_ref().and_then(Publisher::next_due);
        let away = self.away.as_ref().and_then(Away::next_due);
        [
            self.publish.timeout(),
            self.subscribe.timeout(),
            media,
            away,
            self.view_due(),
        ]
        .into_iter()
        .flatten()
        .fold(cap, Instant::min)
    }

    fn snapshot(&self) -> BotStats {
        let mut stats = self.stats.clone();
        stats.sent.udp_send_drops = self.publish.send_drops() + self.subscribe.send_drops();
        stats.datagrams_received = self.subscribe.received();
        stats.rtp_received = self.subscribe.rtp_received();
        stats.datagram_bytes_received = self.subscribe.bytes_received();
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
            // Inline drain: `self.drain` would borrow the publisher too. A timeout already due
            // is handled before the next write: str0m packetizes written frames on timeouts,
            // and a bot that fell behind (a saturated machine) would otherwise write frame
            // after frame until str0m refuses the next (`WriteWithoutPoll`).
            let mut timeouts = 0;
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
                    Ok(None)
                        if timeouts < 64 && self.publish.timeout().is_some_and(|t| t <= now) =>
                    {
                        timeouts += 1;
                        if let Err(e) = self.publish.handle_timeout(now) {
                            return self.fail_peer(Pc::Publish, e);
                        }
                    }
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

    /// Closes both media connections and starts over on new sockets, as a page does for a new
    /// participant: nothing of the old connections, tracks or remotes is kept.
    async fn new_connections(&mut self) -> Result<(), BotError> {
        let ip = local_ip(&self.config);
        self.publish.close();
        self.publish = Peer::bind(Pc::Publish, ip).await?;
        self.publisher = None;
        self.pending_publish = None;
        self.unanswered_publish = None;
        self.new_subscribe().await?;
        self.stats.remotes.clear();
        self.reset_view();
        Ok(())
    }

    /// Closes the subscribe connection and binds a new socket for the next one.
    async fn new_subscribe(&mut self) -> Result<(), BotError> {
        self.subscribe.close();
        self.subscribe = Peer::bind(Pc::Subscribe, local_ip(&self.config)).await?;
        self.subscribe_candidate_sent = false;
        self.down_tracks.clear();
        Ok(())
    }
}

/// The next event of the socket; never, while there is none.
async fn next_signal(signal: &mut Option<Signaling>) -> Result<SignalEvent, BotError> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
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
    let at = now.duration_since(start);
    match event {
        Event::IceConnectionStateChange(state) => {
            if is_connected(state) {
                stats.publish_ice_connected.get_or_insert(at);
            } else if state == IceConnectionState::Disconnected {
                stats.push_error("Publish connection: ice disconnected".into());
            }
        }
        Event::Connected => {
            let rtc = peer.rtc().expect("events only come from a live rtc");
            if let Some(problem) = publisher.handle_connected(rtc, now) {
                stats.push_error(problem.into());
            }
            // Media flows from now on: a bot that joined anew is back in the lesson.
            stats.handle_back(at);
        }
        Event::KeyframeRequest(req) => publisher.handle_keyframe_request(&req, &mut stats.sent),
        _ => {}
    }
}
