//! One WebSocket session: reads client messages in order, checks them, and passes them to the
//! room task or the SFU. A writer task owns the sending half, so the room task and the SFU can
//! queue messages for this client without waiting on its network.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aula_sfu::{ParticipantId, RoomId};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::AppState;
use crate::addresses::Hold;
use crate::admission::{Class, Entry, Place, RETRY_AFTER_SECS, Seat};
use crate::budget::{Budget, Verdict};
use crate::outbox::{Frame, Inbox};
use crate::protocol::{self, ClientMsg, ErrorCode, Role, ServerMsg};
use crate::registry::{Counters, Grant, RoomEntry};
use crate::room::{Departure, Outbox, Outgoing, RoomMsg, SocketId, TokenCheck};

/// How long a closing socket may take to flush what is queued for it.
const WRITER_DRAIN: Duration = Duration::from_secs(2);
/// A socket waiting in the join queue is pinged after this much silence, and loses its place
/// after [`QUEUE_IDLE`] without a word: a page that vanished must not hold a place for long.
const QUEUE_PING: Duration = Duration::from_secs(2);
const QUEUE_IDLE: Duration = Duration::from_secs(6);

const RESUME_FAILED: &str = "this session cannot be resumed; join again";

/// Socket ids, unique for the life of the process.
static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

struct Joined {
    room: RoomId,
    participant: ParticipantId,
    inbox: mpsc::Sender<RoomMsg>,
}

/// A join or resume waiting in the queue for its seat.
struct Waiting {
    /// Held while it waits: dropping it (the socket closed) frees the place.
    _place: Place,
    seat: oneshot::Receiver<Seat>,
    request: Request,
}

/// The request that waits, carried out once it is let in.
enum Request {
    Join {
        room: String,
        secret: String,
        name: String,
        session: Option<String>,
        creator: Option<String>,
    },
    Resume {
        room: String,
        token: String,
        fresh: bool,
    },
}

struct Session {
    state: AppState,
    out: Outbox,
    socket: SocketId,
    /// The address the connection came from, for the queue's bound per address.
    addr: IpAddr,
    joined: Option<Joined>,
    waiting: Option<Waiting>,
    /// This session's seat on the server, once admitted (dropped when the socket ends).
    seat: Option<Seat>,
    /// How the session ends, for the room: lost unless the client says otherwise.
    departure: Departure,
    /// The type of the message being handled, for the `re` of an error answering it.
    re: &'static str,
    /// What the client may still send (crate::budget).
    budget: Budget,
}

/// What to do after a message.
enum Flow {
    Continue,
    Stop,
}

/// The seat a waiting session is given, when it comes; never, for one that does not wait.
async fn seat_for(waiting: &mut Option<Waiting>) -> Option<Seat> {
    match waiting {
        Some(w) => (&mut w.seat).await.ok(),
        None => std::future::pending().await,
    }
}

/// Runs a session until its socket closes; `_hold` is its place under its address's cap.
pub async fn run(socket: WebSocket, state: AppState, addr: IpAddr, _hold: Option<Hold>) {
    let (sink, mut stream) = socket.split();
    let (out, out_rx) = Outbox::channel();
    let mut writer = tokio::spawn(write_loop(sink, out_rx));
    let mut stop = state.stop.clone();
    let idle_timeout = state.config.ws_idle_timeout();
    let ping_every = idle_timeout / 3;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let join_by = Instant::now() + state.config.ws_join_timeout();
    let mut session = Session {
        state,
        out,
        socket: NEXT_SOCKET.fetch_add(1, Ordering::Relaxed),
        addr,
        joined: None,
        waiting: None,
        seat: None,
        departure: Departure::Lost,
        re: "",
        budget: Budget::new(Instant::now()),
    };
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = stop.changed() => {
                session.send_close(1001, "server shutting down");
                break;
            }
            // The room closed this socket (removed, denied, room ended): stop reading.
            _ = session.out.closed() => break,
            // The client does not read what its room sends: drop it.
            _ = session.out.overflowed() => {
                tracing::debug!("websocket queue full; dropping the socket");
                crate::tally::slow_socket_dropped();
                writer.abort();
                break;
            }
            seat = seat_for(&mut session.waiting) => {
                let flow = match seat {
                    Some(seat) => session.admitted(seat).await,
                    // Another socket of the same page took this place.
                    None => Flow::Stop,
                };
                if matches!(flow, Flow::Stop) {
                    break;
                }
                continue;
            }
            _ = tokio::time::sleep(QUEUE_PING), if session.waiting.is_some() => {
                if last_heard.elapsed() >= QUEUE_IDLE {
                    tracing::debug!("queued websocket silent; giving its place up");
                    session.send_close(1001, "no answer");
                    break;
                }
                let _ = session.out.send(Outgoing::Ping);
                continue;
            }
            _ = tokio::time::sleep_until(join_by), if session.joined.is_none() && session.waiting.is_none() => {
                tracing::debug!("websocket sent no join in time; closing it");
                Counters::bump(&session.state.registry.counters.sockets_without_join);
                session.send_close(1008, "no join");
                break;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= idle_timeout {
                    tracing::debug!("websocket silent too long; dropping it");
                    session.send_close(1001, "no answer");
                    break;
                }
                let _ = session.out.send(Outgoing::Ping);
                continue;
            }
        };
        last_heard = Instant::now();
        if let Some(Ok(Message::Text(_) | Message::Binary(_))) = &frame {
            match session.spend() {
                Verdict::Handle => {}
                Verdict::Drop { .. } => continue,
                Verdict::Close => {
                    // Read on until the client hears the close, as for a read error.
                    drain(&mut stream).await;
                    break;
                }
            }
        }
        let flow = match frame {
            Some(Ok(Message::Text(text))) => session.handle_text(&text).await,
            Some(Ok(Message::Binary(_))) => session.send_error_about(
                "",
                ErrorCode::BadMessage,
                "binary frames are not part of the protocol",
            ),
            Some(Ok(Message::Close(_))) | None => Flow::Stop,
            Some(Ok(_)) => Flow::Continue, // pings are answered by the library; pongs count as heard
            Some(Err(e)) => {
                // Frames beyond the library's hard limit end up here, protocol violations,
                // and broken connections.
                tracing::debug!(error = %e, "websocket read failed");
                if let Some((code, reason)) = close_for(e) {
                    session.send_close(code, reason);
                    // Read on (and throw away) what the client still sends until it answers
                    // the close: a socket dropped with unread data goes out as a TCP reset,
                    // which a browser reports as a broken connection, not as this close.
                    drain(&mut stream).await;
                }
                Flow::Stop
            }
        };
        if matches!(flow, Flow::Stop) {
            break;
        }
    }
    session.leave().await;
    session.send_close(1000, "bye");
    drop(session);
    // A client that stops reading must not keep the writer (and its socket) forever.
    if tokio::time::timeout(WRITER_DRAIN, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// The close a read error calls for (RFC 6455, 7.4.1), or `None` for a connection that is
/// already broken.
fn close_for(e: axum::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::Error;
    let inner = e.into_inner();
    match inner.downcast_ref::<Error>() {
        Some(Error::Capacity(_)) => Some((1009, "message too large")),
        Some(Error::Utf8(_)) => Some((1007, "text is not UTF-8")),
        Some(Error::Protocol(_)) => Some((1002, "protocol error")),
        Some(Error::ConnectionClosed | Error::AlreadyClosed | Error::Io(_)) => None,
        _ => Some((1011, "read failed")),
    }
}

/// Reads and discards for up to [`WRITER_DRAIN`], until the client closes.
async fn drain(stream: &mut futures_util::stream::SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(WRITER_DRAIN, async {
        // An error again means the stream cannot be read on: stop there.
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Writes what the socket's outbox holds until its first close, which is counted by its code
/// (crate::tally) and ends the socket: a close queued after it (the session's goodbye after
/// whatever closed it) is neither sent nor counted.
async fn write_loop<S: futures_util::Sink<Message> + Unpin>(mut sink: S, mut inbox: Inbox) {
    while let Some(out) = inbox.recv().await {
        let frame = match out {
            Frame::Text(text) => Message::Text(text),
            Frame::Ping => Message::Ping(Default::default()),
            Frame::Close(code, reason) => {
                crate::tally::closed(code);
                let close = CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                return;
            }
        };
        if sink.send(frame).await.is_err() {
            return;
        }
    }
}

impl Session {
    /// Spends a frame from the budget, answering or closing as the verdict says. A flooding
    /// client is closed (1008) and gone for good: its seat is not kept for a resume.
    fn spend(&mut self) -> Verdict {
        let counters = &self.state.registry.counters;
        let verdict = self.budget.handle_message(Instant::now());
        match verdict {
            Verdict::Handle => {}
            Verdict::Drop { tell } => {
                Counters::bump(&counters.messages_dropped);
                if tell {
                    let why = "too many messages; some were dropped";
                    let _ = self
                        .out
                        .send(Outgoing::Msg(ErrorCode::RateLimited.message(why)));
                }
            }
            Verdict::Close => {
                tracing::debug!("websocket floods far beyond its budget; closing it");
                Counters::bump(&counters.sockets_flooding);
                self.departure = Departure::Left;
                self.send_close(1008, "message flood");
            }
        }
        verdict
    }

    async fn handle_text(&mut self, text: &str) -> Flow {
        self.re = "";
        let msg = match protocol::parse(text) {
            Ok(msg) => msg,
            Err((code, message)) => return self.send_error(code, message),
        };
        self.re = msg.type_name();
        if self.waiting.is_some() {
            return match msg {
                ClientMsg::Ping => {
                    let _ = self.out.send(Outgoing::Msg(ServerMsg::Pong));
                    Flow::Continue
                }
                // Leaving the queue frees the place (the Place drops with the session).
                ClientMsg::Leave { .. } => {
                    self.departure = Departure::Left;
                    Flow::Stop
                }
                _ => self.send_error(
                    ErrorCode::NotJoined,
                    "waiting in the queue: you will be let in by yourself",
                ),
            };
        }
        match (msg, &self.joined) {
            (ClientMsg::Ping, _) => {
                let _ = self.out.send(Outgoing::Msg(ServerMsg::Pong));
                Flow::Continue
            }
            (
                ClientMsg::Join {
                    v,
                    room,
                    secret,
                    name,
                    session,
                    creator,
                },
                None,
            ) => self.join(v, &room, &secret, &name, session, creator).await,
            (
                ClientMsg::Resume {
                    v,
                    room,
                    token,
                    fresh,
                },
                None,
            ) => self.resume(v, &room, token, fresh).await,
            (ClientMsg::Join { .. } | ClientMsg::Resume { .. }, Some(_)) => {
                self.send_error(ErrorCode::AlreadyJoined, "this socket has already joined")
            }
            (_, None) => self.send_error(ErrorCode::NotJoined, "send join first"),
            (ClientMsg::Leave { may_return }, Some(_)) => {
                self.departure = if may_return {
                    Departure::Unloading
                } else {
                    Departure::Left
                };
                Flow::Stop
            }
            (msg, Some(_)) => self.handle_joined(msg).await,
        }
    }

    async fn join(
        &mut self,
        v: u32,
        room: &str,
        secret: &str,
        name: &str,
        session: Option<String>,
        creator: Option<String>,
    ) -> Flow {
        if v != protocol::VERSION {
            let message = format!("this server speaks protocol version {}", protocol::VERSION);
            return self.send_error(ErrorCode::UnsupportedVersion, message);
        }
        let name = match protocol::clean_name(name) {
            Ok(name) => name,
            Err(why) => return self.send_error(ErrorCode::BadName, why),
        };
        let addresses = self.state.addresses.clone();
        if let Err(refusal) = addresses.handle_join(self.addr, Instant::now()) {
            self.state.registry.counters.address_refused(refusal);
            let retry = addresses.retry_after(refusal);
            return self.busy(format!("{refusal}; this page tries again by itself"), retry);
        }
        let grant = match self.room_and_grant(room, secret, creator.as_deref()) {
            Ok((_, grant, _)) => grant,
            Err(flow) => return flow,
        };
        let class = match grant {
            Grant::Role(Role::Host) => Class::Host,
            _ => Class::New,
        };
        let key = session.clone();
        let request = Request::Join {
            room: room.to_string(),
            secret: secret.to_string(),
            name,
            session,
            creator,
        };
        self.at_the_door(class, key.as_deref(), request).await
    }

    /// The room, what `secret` grants in it, and whether `creator` is its creator key (which
    /// counts with a host link only); or, answered already, why not.
    fn room_and_grant(
        &self,
        room: &str,
        secret: &str,
        creator: Option<&str>,
    ) -> Result<(RoomEntry, Grant, bool), Flow> {
        let Some(entry) = self.state.registry.get(room) else {
            return Err(self.send_error(
                ErrorCode::UnknownRoom,
                "this room has ended or never existed",
            ));
        };
        let creator = creator.is_some_and(|key| entry.creator_key.matches(key));
        match entry.grant_for(secret) {
            Some(grant @ Grant::Role(Role::Host)) => Ok((entry, grant, creator)),
            Some(grant) => Ok((entry, grant, false)),
            // A host link renewed since (by her, or by someone who stood in for her): the
            // creator is still the host.
            None if creator => Ok((entry, Grant::Role(Role::Host), true)),
            None => {
                Err(self.send_error(ErrorCode::BadSecret, "this link is not valid for this room"))
            }
        }
    }

    /// Lets `request` in now, or queues it (telling the page where it stands), or, when the
    /// queue cannot take it either, tells the page to ask again later.
    async fn at_the_door(&mut self, class: Class, key: Option<&str>, request: Request) -> Flow {
        let room = match &request {
            Request::Join { room, .. } | Request::Resume { room, .. } => room.clone(),
        };
        let admission = self.state.admission.clone();
        match admission.enter(class, key, self.addr, &room, &self.out) {
            Entry::Seat(seat) => self.admitted_with(seat, request).await,
            Entry::Wait {
                place,
                position,
                seat,
            } => {
                let _ = self.out.send(Outgoing::Msg(admission.first_news(position)));
                self.waiting = Some(Waiting {
                    _place: place,
                    seat,
                    request,
                });
                Flow::Continue
            }
            Entry::Busy(why) => {
                tracing::debug!(why, "join queue cannot take this join");
                let why = "many classes are starting right now; this page tries again by itself";
                self.busy(why.into(), RETRY_AFTER_SECS)
            }
        }
    }

    /// `server_busy` with the seconds after which to ask again, and a close (1013).
    fn busy(&self, message: String, retry_after_secs: u64) -> Flow {
        crate::tally::error_sent(ErrorCode::ServerBusy);
        let msg = ServerMsg::Error {
            code: ErrorCode::ServerBusy.as_str(),
            message,
            re: (!self.re.is_empty()).then_some(self.re),
            retry_after_secs: Some(retry_after_secs),
        };
        let _ = self.out.send(Outgoing::Msg(msg));
        self.send_close(1013, "try again later");
        Flow::Stop
    }

    /// The queue let this session in.
    async fn admitted(&mut self, seat: Seat) -> Flow {
        let Some(waiting) = self.waiting.take() else {
            return Flow::Continue;
        };
        self.re = match waiting.request {
            Request::Join { .. } => "join",
            Request::Resume { .. } => "resume",
        };
        self.admitted_with(seat, waiting.request).await
    }

    async fn admitted_with(&mut self, seat: Seat, request: Request) -> Flow {
        self.seat = Some(seat);
        let flow = match request {
            Request::Join {
                room,
                secret,
                name,
                session,
                creator,
            } => self.join_room(&room, &secret, name, session, creator).await,
            Request::Resume { room, token, fresh } => self.resume_room(&room, token, fresh).await,
        };
        if self.joined.is_none() {
            self.seat = None;
        }
        flow
    }

    async fn join_room(
        &mut self,
        room: &str,
        secret: &str,
        name: String,
        session: Option<String>,
        creator: Option<String>,
    ) -> Flow {
        // Checked again: the room may have ended, or the link been renewed, while it waited.
        // A wrong or missing key is no error: that page joins as its link says.
        let (entry, grant, creator) = match self.room_and_grant(room, secret, creator.as_deref()) {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        let host = matches!(grant, Grant::Role(Role::Host));
        let (reply, answer) = oneshot::channel();
        let msg = RoomMsg::Join {
            name,
            grant,
            secret: secret.to_string(),
            session,
            creator,
            out: self.out.clone(),
            socket: self.socket,
            addr: self.state.addresses.key(self.addr),
            reply,
        };
        let result = match entry.inbox.send(msg).await {
            Ok(()) => answer.await.unwrap_or(Err(ErrorCode::UnknownRoom)),
            Err(_) => Err(ErrorCode::UnknownRoom),
        };
        match result {
            Ok(participant) => {
                self.joined = Some(Joined {
                    room: room.into(),
                    participant,
                    inbox: entry.inbox,
                });
                // A host let in while students wait sees how many.
                let waiting = self.state.admission.waiting_for(room);
                if host && waiting > 0 {
                    let _ = self.out.send(Outgoing::Msg(ServerMsg::Queue { waiting }));
                }
                Flow::Continue
            }
            Err(code) => {
                let message = match code {
                    ErrorCode::RoomFull => "this room is full",
                    ErrorCode::LobbyFull => {
                        "this room's lobby holds as many people from your network as it takes"
                    }
                    ErrorCode::UnknownRoom => "this room has ended",
                    ErrorCode::RoomLocked => "this room is locked: nobody new may join",
                    ErrorCode::Removed => "a host removed you from this room",
                    ErrorCode::BadSecret => "this link is not valid for this room",
                    ErrorCode::Denied => "a host did not let you in",
                    ErrorCode::NameTaken => "a host of this room has this name; choose your own",
                    _ => "the server cannot take this join now; try again",
                };
                self.send_error(code, message)
            }
        }
    }

    /// Takes the place of an earlier socket of the same participant. A room that is gone, like
    /// a token it does not know, is `resume_failed`: the client then joins anew, and learns
    /// from that whether the room still exists. Resumes wait in the queue ahead of new joins.
    async fn resume(&mut self, v: u32, room: &str, token: String, fresh: bool) -> Flow {
        if v != protocol::VERSION {
            let message = format!("this server speaks protocol version {}", protocol::VERSION);
            return self.send_error(ErrorCode::UnsupportedVersion, message);
        }
        let Some(entry) = self.state.registry.get(room) else {
            return self.send_error(ErrorCode::ResumeFailed, RESUME_FAILED);
        };
        // Resumes go ahead of new joins in the queue: one with a token the room does not know
        // (a script with the class link) must not take a place there, or a few sockets sending
        // made-up ones would keep every new join on the server waiting.
        let (reply, known) = oneshot::channel();
        let ask = RoomMsg::KnowsToken {
            token: token.clone(),
            reply,
        };
        let check = match entry.inbox.send(ask).await {
            Ok(()) => known.await.unwrap_or(TokenCheck::Unknown),
            Err(_) => TokenCheck::Unknown,
        };
        let key = token.clone();
        let request = Request::Resume {
            room: room.to_string(),
            token,
            fresh,
        };
        match check {
            TokenCheck::Unknown => self.send_error(ErrorCode::ResumeFailed, RESUME_FAILED),
            // The seat its member kept while away (a socket that is still open keeps its own
            // until the room closes it for this one; then this waits first in the queue).
            TokenCheck::Known(Some(seat)) => self.admitted_with(seat, request).await,
            TokenCheck::Known(None) => {
                let flow = self.at_the_door(Class::Resume, Some(&key), request).await;
                // Queued: the old socket may have ended meanwhile and left its seat with the
                // member, where it waits for this resume.
                if self.waiting.is_some() {
                    let _ = entry.inbox.send(RoomMsg::ResumeQueued { token: key }).await;
                }
                flow
            }
        }
    }

    async fn resume_room(&mut self, room: &str, token: String, fresh: bool) -> Flow {
        let Some(entry) = self.state.registry.get(room) else {
            return self.send_error(ErrorCode::ResumeFailed, RESUME_FAILED);
        };
        let (reply, answer) = oneshot::channel();
        let msg = RoomMsg::Resume {
            token,
            fresh,
            out: self.out.clone(),
            socket: self.socket,
            reply,
        };
        let result = match entry.inbox.send(msg).await {
            Ok(()) => answer.await.unwrap_or(Err(ErrorCode::ResumeFailed)),
            Err(_) => Err(ErrorCode::ResumeFailed),
        };
        match result {
            Ok(participant) => {
                self.joined = Some(Joined {
                    room: room.into(),
                    participant,
                    inbox: entry.inbox,
                });
                Flow::Continue
            }
            Err(ErrorCode::ServerBusy) => {
                self.send_error(ErrorCode::ServerBusy, "the server is shutting down")
            }
            Err(code) => self.send_error(code, RESUME_FAILED),
        }
    }

    /// Everything after `join` but `leave` is the room's to check and carry out.
    async fn handle_joined(&mut self, msg: ClientMsg) -> Flow {
        let joined = self.joined.as_ref().expect("caller checked");
        let msg = RoomMsg::Client {
            participant: joined.participant,
            socket: self.socket,
            msg,
        };
        if joined.inbox.send(msg).await.is_err() {
            return self.send_error(ErrorCode::UnknownRoom, "this room has ended");
        }
        Flow::Continue
    }

    async fn leave(&mut self) {
        if let Some(joined) = self.joined.take() {
            let span = tracing::info_span!("room", id = %joined.room);
            let msg = RoomMsg::Leave {
                participant: joined.participant,
                socket: self.socket,
                how: self.departure,
                seat: self.seat.take(),
            };
            let _ = joined.inbox.send(msg).instrument(span).await;
        }
    }

    /// Answers the message being handled with an error (closing the socket if it is fatal).
    fn send_error(&self, code: ErrorCode, message: impl Into<String>) -> Flow {
        self.send_error_about(self.re, code, message)
    }

    fn send_error_about(
        &self,
        re: &'static str,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Flow {
        let _ = self.out.send(Outgoing::Msg(code.reply(re, message)));
        if code.is_fatal() {
            let close = if code == ErrorCode::TooLarge {
                1009
            } else {
                4000
            };
            self.send_close(close, code.as_str());
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn send_close(&self, code: u16, reason: &'static str) {
        let _ = self.out.send(Outgoing::Close(code, reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Outbox;

    fn closed_with(code: u16) -> u64 {
        let line = format!("aula_websockets_closed_total{{code=\"{code}\"}} ");
        let samples = crate::tally::samples();
        let found = samples.lines().find_map(|l| l.strip_prefix(line.as_str()));
        found.and_then(|n| n.parse().ok()).expect("a sample")
    }

    #[tokio::test]
    async fn a_socket_is_counted_once_by_the_close_it_was_closed_with() {
        let (before_4000, before_1000) = (closed_with(4000), closed_with(1000));
        let (out, inbox) = Outbox::channel();
        // A fatal error closes it; the session's goodbye follows, as at every socket's end.
        out.send(Outgoing::Close(4000, "removed")).expect("queued");
        out.send(Outgoing::Close(1000, "bye")).expect("queued");
        drop(out);
        let (sink, mut written) = recording_sink();
        write_loop(sink, inbox).await;
        let first = written.recv().await;
        assert!(
            matches!(&first, Some(Message::Close(Some(c))) if c.code == 4000),
            "{first:?}"
        );
        assert!(
            written.recv().await.is_none(),
            "nothing after the first close"
        );
        assert_eq!(closed_with(4000), before_4000 + 1);
        assert_eq!(closed_with(1000), before_1000, "the goodbye is not counted");
    }

    /// A sink of messages, and what was written to it.
    fn recording_sink() -> (
        impl futures_util::Sink<Message> + Unpin,
        tokio::sync::mpsc::UnboundedReceiver<Message>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = futures_util::sink::unfold(tx, |tx, m: Message| async move {
            tx.send(m).map_err(|_| ())?;
            Ok::<_, ()>(tx)
        });
        (Box::pin(sink), rx)
    }
}
