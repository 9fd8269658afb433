//! One WebSocket session: reads client messages in order, checks them, and passes them to the
//! room task or the SFU. A writer task owns the sending half, so the room task and the SFU can
//! queue messages for this client without waiting on its network.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aula_sfu::{ParticipantId, RoomId};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::AppState;
use crate::protocol::{self, ClientMsg, ErrorCode, ServerMsg};
use crate::room::{Departure, Outbox, Outgoing, RoomMsg, SocketId};

/// How long a closing socket may take to flush what is queued for it.
const WRITER_DRAIN: Duration = Duration::from_secs(2);

/// Socket ids, unique for the life of the process.
static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

struct Joined {
    room: RoomId,
    participant: ParticipantId,
    inbox: mpsc::Sender<RoomMsg>,
}

struct Session {
    state: AppState,
    out: Outbox,
    socket: SocketId,
    joined: Option<Joined>,
    /// How the session ends, for the room: lost unless the client says otherwise.
    departure: Departure,
    /// The type of the message being handled, for the `re` of an error answering it.
    re: &'static str,
}

/// What to do after a message.
enum Flow {
    Continue,
    Stop,
}

pub async fn run(socket: WebSocket, state: AppState) {
    let (sink, mut stream) = socket.split();
    let (out, out_rx) = Outbox::channel();
    let mut writer = tokio::spawn(write_loop(sink, out_rx));
    let mut stop = state.stop.clone();
    let idle_timeout = state.config.ws_idle_timeout();
    let ping_every = idle_timeout / 3;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut session = Session {
        state,
        out,
        socket: NEXT_SOCKET.fetch_add(1, Ordering::Relaxed),
        joined: None,
        departure: Departure::Lost,
        re: "",
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
                writer.abort();
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
                // Frames beyond the library's hard limit end up here, as do broken connections.
                tracing::debug!(error = %e, "websocket read failed");
                session.send_close(1009, "message too large or connection broken");
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

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(out) = rx.recv().await {
        let frame = match out {
            Outgoing::Msg(msg) => {
                let text = serde_json::to_string(&msg).expect("server messages serialize");
                Message::Text(text.into())
            }
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Close(code, reason) => {
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
    async fn handle_text(&mut self, text: &str) -> Flow {
        self.re = "";
        let msg = match protocol::parse(text) {
            Ok(msg) => msg,
            Err((code, message)) => return self.send_error(code, message),
        };
        self.re = msg.type_name();
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
                },
                None,
            ) => self.join(v, &room, &secret, &name, session).await,
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
    ) -> Flow {
        if v != protocol::VERSION {
            let message = format!("this server speaks protocol version {}", protocol::VERSION);
            return self.send_error(ErrorCode::UnsupportedVersion, message);
        }
        let name = match protocol::clean_name(name) {
            Ok(name) => name,
            Err(why) => return self.send_error(ErrorCode::BadName, why),
        };
        let Some(entry) = self.state.registry.get(room) else {
            return self.send_error(
                ErrorCode::UnknownRoom,
                "this room has ended or never existed",
            );
        };
        let Some(grant) = entry.grant_for(secret) else {
            return self.send_error(ErrorCode::BadSecret, "this link is not valid for this room");
        };
        let (reply, answer) = oneshot::channel();
        let msg = RoomMsg::Join {
            name,
            grant,
            secret: secret.to_string(),
            session,
            out: self.out.clone(),
            socket: self.socket,
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
                Flow::Continue
            }
            Err(code) => {
                let message = match code {
                    ErrorCode::RoomFull => "this room is full",
                    ErrorCode::UnknownRoom => "this room has ended",
                    ErrorCode::RoomLocked => "this room is locked: nobody new may join",
                    ErrorCode::Removed => "a host removed you from this room",
                    ErrorCode::BadSecret => "this link is not valid for this room",
                    _ => "the server cannot take this join now; try again",
                };
                self.send_error(code, message)
            }
        }
    }

    /// Takes the place of an earlier socket of the same participant. A room that is gone, like
    /// a token it does not know, is `resume_failed`: the client then joins anew, and learns
    /// from that whether the room still exists.
    async fn resume(&mut self, v: u32, room: &str, token: String, fresh: bool) -> Flow {
        if v != protocol::VERSION {
            let message = format!("this server speaks protocol version {}", protocol::VERSION);
            return self.send_error(ErrorCode::UnsupportedVersion, message);
        }
        const FAILED: &str = "this session cannot be resumed; join again";
        let Some(entry) = self.state.registry.get(room) else {
            return self.send_error(ErrorCode::ResumeFailed, FAILED);
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
            Err(code) => self.send_error(code, FAILED),
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
