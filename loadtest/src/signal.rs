//! The bot's signaling socket: JSON text frames of docs/protocol.md over a WebSocket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::bot::BotError;
use crate::protocol::{ClientMsg, ServerMsg};

/// A connected signaling socket.
pub(crate) struct Signal {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The latest message of each type, as JSON, for tests that look at what a bot was told
    /// (`BotHandle::last_message`). One per type keeps it small; the SDP messages are left
    /// out, as they are the bulk of the bytes and the bot acts on them itself.
    last: HashMap<String, Value>,
}

/// Types not kept in [`Signal::last`].
const NOT_KEPT: [&str; 2] = ["subscribe_offer", "publish_answer"];

/// One thing that arrived on the socket.
pub(crate) enum Incoming {
    /// A message of the protocol, boxed because `joined` is several times the size of the
    /// rest (one allocation per signaling message is nothing next to its JSON parse).
    Msg(Box<ServerMsg>),
    /// A text frame that is not a protocol message; the document says to ignore unknown types,
    /// but a frame that is not even JSON is the server's bug and worth reporting.
    Garbage(String),
    /// The server closed the socket (the close frame's code and reason, if any).
    Closed(Option<(u16, String)>),
}

impl Signal {
    /// Opens the WebSocket at `url` (`ws://host:port/ws`), saying it comes from
    /// `forwarded_for` as a reverse proxy on the server's machine would (`X-Forwarded-For`;
    /// the server believes it only from a loopback peer).
    pub async fn connect(url: &str, forwarded_for: Option<IpAddr>) -> Result<Signal, BotError> {
        let failed = |e| BotError::Connect {
            url: url.to_owned(),
            source: Box::new(e),
        };
        let mut request = url.into_client_request().map_err(failed)?;
        if let Some(addr) = forwarded_for {
            let value = HeaderValue::from_str(&addr.to_string())
                .expect("an address is a valid header value");
            request.headers_mut().insert("x-forwarded-for", value);
        }
        let (ws, _response) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(failed)?;
        Ok(Signal {
            ws,
            last: HashMap::new(),
        })
    }

    /// Sends one message ([`ClientMsg`], or any JSON a test wants sent) as a text frame.
    pub async fn send(&mut self, msg: &impl Serialize) -> Result<(), BotError> {
        let text = serde_json::to_string(msg).expect("client messages and json always serialize");
        self.ws
            .send(Message::text(text))
            .await
            .map_err(BotError::websocket)
    }

    /// Waits for the next text frame. Cancel-safe: a frame is either returned or stays queued.
    pub async fn recv(&mut self) -> Result<Incoming, BotError> {
        loop {
            let Some(frame) = self.ws.next().await else {
                return Ok(Incoming::Closed(None));
            };
            match frame.map_err(BotError::websocket)? {
                Message::Text(text) => return Ok(self.parse(text.as_str())),
                Message::Close(frame) => {
                    let why = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    return Ok(Incoming::Closed(why));
                }
                Message::Binary(_) => return Ok(Incoming::Garbage("binary frame".into())),
                // Pings are answered by tungstenite itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// The latest message of type `ty` received, unless it is an SDP message.
    pub fn last(&self, ty: &str) -> Option<&Value> {
        self.last.get(ty)
    }

    /// A text frame as a protocol message, keeping it in [`Signal::last`].
    fn parse(&mut self, text: &str) -> Incoming {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => return Incoming::Garbage(format!("{e}: {text}")),
        };
        let msg = ServerMsg::deserialize(&value);
        let ty = value.get("type").and_then(Value::as_str).map(str::to_owned);
        if let Some(ty) = ty.filter(|ty| !NOT_KEPT.contains(&ty.as_str())) {
            self.last.insert(ty, value);
        }
        match msg {
            Ok(msg) => Incoming::Msg(Box::new(msg)),
            Err(e) => Incoming::Garbage(format!("{e}: {text}")),
        }
    }

    /// Sends `leave` and waits up to `wait` for the server to close the socket, as the protocol
    /// says it will; closes it from this side if it does not. Errors no longer matter here.
    pub async fn leave(&mut self, wait: Duration) {
        let leave = ClientMsg::Leave { may_return: false };
        if self.send(&leave).await.is_err() {
            return;
        }
        let closed = async {
            while let Ok(incoming) = self.recv().await {
                if let Incoming::Closed(_) = incoming {
                    return;
                }
            }
        };
        if tokio::time::timeout(wait, closed).await.is_err() {
            let frame = CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            };
            let _ = self.ws.close(Some(frame)).await;
        }
    }
}
