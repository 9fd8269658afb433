//! The WebSocket to Janus: subprotocol `janus-protocol`, a writer task, keepalives.
//!
//! Frames go out through a writer task fed by an unbounded channel, so that handling a frame
//! from Janus (which may queue answers, such as an `update` for a new feed) never awaits, and
//! [`JanusSocket::recv`] stays cancel-safe inside the bot's `select!`.

use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::client::{Client, created_room};
use super::msg::{JanusMsg, build};
use super::{KEEPALIVE, MAX_PUBLISHERS};
use crate::bot::BotError;
use crate::signaling::SignalEvent;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A bot's connection to Janus and its room.
pub(crate) struct JanusSocket {
    client: Client,
    stream: SplitStream<Ws>,
    /// `None` once leaving: dropping it lets the writer finish and close the socket.
    writer: Option<mpsc::UnboundedSender<String>>,
    writer_task: JoinHandle<()>,
    keepalive: Interval,
}

impl JanusSocket {
    /// Connects to `url`, creates a session, attaches, and asks to join `room` as a publisher
    /// named `name` (marked as a host if `host`). Returns the socket and when its WebSocket
    /// opened (from `start`); the `Joined` (or a refusal) comes from [`JanusSocket::recv`].
    pub async fn connect(
        url: &str,
        room: &str,
        name: &str,
        host: bool,
        start: Instant,
    ) -> Result<(JanusSocket, Duration), BotError> {
        let room: u64 = room
            .parse()
            .map_err(|_| BotError::Protocol(format!("janus room id {room:?} is not a number")))?;
        let ws = connect(url).await?;
        let ws_open = start.elapsed();
        let (sink, stream) = ws.split();
        let (writer, rx) = mpsc::unbounded_channel();
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let socket = JanusSocket {
            client: Client::new(room, name, host),
            stream,
            writer: Some(writer),
            writer_task: tokio::spawn(write_frames(sink, rx)),
            keepalive,
        };
        Ok((socket, ws_open))
    }

    /// The next event. Cancel-safe: frames are handled synchronously once read.
    pub async fn recv(&mut self) -> Result<SignalEvent, BotError> {
        loop {
            self.flush();
            if let Some(event) = self.client.poll_event() {
                return Ok(event);
            }
            tokio::select! {
                frame = self.stream.next() => match frame {
                    None => return Ok(SignalEvent::Closed(None)),
                    Some(Err(e)) => return Err(BotError::websocket(e)),
                    Some(Ok(Message::Text(text))) => self.client.handle_text(text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        return Ok(SignalEvent::Closed(why));
                    }
                    Some(Ok(_)) => {}
                },
                _ = self.keepalive.tick() => self.client.keepalive(),
            }
        }
    }

    /// Publishes `offer` (simulcast or not) and trickles `candidate`.
    pub fn publish(&mut self, offer: &str, simulcast: bool, candidate: &str) {
        self.client.publish(offer, simulcast, candidate);
        self.flush();
    }

    /// Shows each feed's camera at a substream, or not at all (`None`).
    pub fn view(&mut self, feeds: &[(u64, Option<u8>)]) {
        self.client.view(feeds);
        self.flush();
    }

    /// Answers the subscriber's offer.
    pub fn subscribe_answer(&mut self, answer: &str, candidate: Option<&str>) {
        self.client.subscribe_answer(answer, candidate);
        self.flush();
    }

    /// Leaves the room, destroys the session, and closes the socket, waiting at most `wait`
    /// for the frames to go out.
    pub async fn leave(&mut self, wait: Duration) {
        self.client.leave();
        self.flush();
        self.writer = None;
        let _ = tokio::time::timeout(wait, &mut self.writer_task).await;
    }

    fn flush(&mut self) {
        let Some(writer) = &self.writer else { return };
        while let Some(text) = self.client.poll_transmit() {
            // A dead writer means a dead socket; `recv` reports that.
            let _ = writer.send(text);
        }
    }
}

impl Drop for JanusSocket {
    fn drop(&mut self) {
        self.writer_task.abort();
    }
}

/// The writer task: sends frames in order until the channel closes, then closes the socket.
async fn write_frames(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(text) = rx.recv().await {
        if let Err(e) = sink.send(Message::text(text)).await {
            tracing::debug!(error = %e, "janus websocket send failed");
            return;
        }
    }
    let _ = sink.close().await;
}

/// Opens a WebSocket to Janus with the subprotocol its transport requires.
async fn connect(url: &str) -> Result<Ws, BotError> {
    let err = |e| BotError::Connect {
        url: url.to_owned(),
        source: Box::new(e),
    };
    let mut request = url.into_client_request().map_err(err)?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("janus-protocol"),
    );
    let (ws, _response) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(err)?;
    Ok(ws)
}

/// Creates a VideoRoom room through Janus at `url` and returns its id; see
/// [`crate::target::create_room`].
pub(crate) async fn create_room(
    url: &str,
    title: Option<&str>,
    timeout: Duration,
) -> Result<u64, anyhow::Error> {
    let work = async {
        let mut ws = connect(url).await?;
        let session = call(&mut ws, "1", build::create_session("1")).await?;
        let session = session.data.map(|d| d.id).ok_or_else(|| no_id("create"))?;
        let handle = call(&mut ws, "2", build::attach("2", session)).await?;
        let handle = handle.data.map(|d| d.id).ok_or_else(|| no_id("attach"))?;
        let body = build::create_room_body(title, MAX_PUBLISHERS);
        let created = call(
            &mut ws,
            "3",
            build::message("3", session, handle, body, None),
        )
        .await?;
        let room = created_room(&created).map_err(anyhow::Error::msg)?;
        let _ = ws.send(Message::text(build::destroy("4", session))).await;
        let _ = ws.close(None).await;
        Ok::<_, anyhow::Error>(room)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow::anyhow!("janus at {url} did not create a room within {timeout:?}"))?
}

fn no_id(what: &str) -> anyhow::Error {
    anyhow::anyhow!("janus answered {what} without an id")
}

/// Sends `text` and waits for the answer with transaction `tx` (skipping its `ack`).
async fn call(ws: &mut Ws, tx: &str, text: String) -> Result<JanusMsg, anyhow::Error> {
    ws.send(Message::text(text)).await?;
    while let Some(frame) = ws.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let msg = JanusMsg::parse(text.as_str())?;
        if msg.transaction.as_deref() != Some(tx) || msg.janus == "ack" {
            continue;
        }
        if let Some(e) = &msg.error {
            anyhow::bail!("janus error {}: {}", e.code, e.reason);
        }
        return Ok(msg);
    }
    anyhow::bail!("janus closed the websocket")
}
