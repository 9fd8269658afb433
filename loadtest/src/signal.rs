//! The bot's signaling socket: JSON text frames of docs/protocol.md over a WebSocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::bot::BotError;
use crate::protocol::{ClientMsg, ServerMsg};

/// A connected signaling socket.
pub(crate) struct Signal {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// One thing that arrived on the socket.
pub(crate) enum Incoming {
    /// A message of the protocol.
    Msg(ServerMsg),
    /// A text frame that is not a protocol message; the document says to ignore unknown types,
    /// but a frame that is not even JSON is the server's bug and worth reporting.
    Garbage(String),
    /// The server closed the socket (the close frame's code and reason, if any).
    Closed(Option<(u16, String)>),
}

impl Signal {
    /// Opens the WebSocket at `url` (`ws://host:port/ws`).
    pub async fn connect(url: &str) -> Result<Signal, BotError> {
        let (ws, _response) =
            tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| BotError::Connect {
                    url: url.to_owned(),
                    source: Box::new(e),
                })?;
        Ok(Signal { ws })
    }

    /// Sends one message as a text frame.
    pub async fn send(&mut self, msg: &ClientMsg<'_>) -> Result<(), BotError> {
        let text = serde_json::to_string(msg).expect("client messages always serialize");
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
                Message::Text(text) => {
                    return Ok(match serde_json::from_str(text.as_str()) {
                        Ok(msg) => Incoming::Msg(msg),
                        Err(e) => Incoming::Garbage(format!("{e}: {}", text.as_str())),
                    });
                }
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

    /// Sends `leave` and waits up to `wait` for the server to close the socket, as the protocol
    /// says it will; closes it from this side if it does not. Errors no longer matter here.
    pub async fn leave(&mut self, wait: Duration) {
        if self.send(&ClientMsg::Leave).await.is_err() {
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
