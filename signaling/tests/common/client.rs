//! A raw protocol client over a real WebSocket, for tests that check exactly what reaches a
//! socket: every message is kept in `seen`, so a test can also assert what never arrived.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::raw_request;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for an answer that takes milliseconds on an idle machine.
pub const ANSWER: Duration = Duration::from_secs(10);

/// Starts a server on loopback (ephemeral ports) and returns its HTTP address.
pub async fn server() -> (aula_signaling::RunningServer, SocketAddr) {
    server_with(aula_signaling::Config::for_tests()).await
}

/// Starts a server with `config`.
pub async fn server_with(
    config: aula_signaling::Config,
) -> (aula_signaling::RunningServer, SocketAddr) {
    super::init_logging();
    let server = aula_signaling::start(config).await.expect("server starts");
    let addr = server.http_addr;
    (server, addr)
}

/// A room as `POST /api/rooms` created it.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: String,
    pub host_secret: String,
    pub participant_secret: String,
    /// `creator_key`: for the creator's browser only.
    pub creator_key: String,
}

/// Creates a room with `body` (JSON) through the real HTTP API.
pub async fn create(addr: SocketAddr, body: Value) -> Room {
    let (status, raw) = raw_request(addr, "POST", "/api/rooms", &body.to_string()).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&raw));
    let v: Value = serde_json::from_slice(&raw).expect("json");
    Room::from_created(&v)
}

impl Room {
    /// The room in a `201` answer of `POST /api/rooms`.
    pub fn from_created(v: &Value) -> Room {
        let secret = |field: &str| {
            let url = v[field].as_str().expect(field);
            url.split("#k=")
                .nth(1)
                .expect("k= in the fragment")
                .to_string()
        };
        Room {
            id: v["id"].as_str().unwrap().to_string(),
            host_secret: secret("host_url"),
            participant_secret: secret("participant_url"),
            creator_key: v["creator_key"].as_str().expect("creator_key").to_string(),
        }
    }
}

pub struct Client {
    ws: Ws,
    /// Every message received so far, in order.
    pub seen: Vec<Value>,
    /// The close code, once the server has closed the socket.
    pub closed: Option<Option<u16>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("ws connects");
        Client {
            ws,
            seen: Vec::new(),
            closed: None,
        }
    }

    /// Connects as if through a reverse proxy on this machine that says the client is
    /// `forwarded_for` (the server counts it under that address); a refused upgrade is its
    /// status and `Retry-After`.
    pub async fn connect_from(
        addr: SocketAddr,
        forwarded_for: &str,
    ) -> Result<Client, (u16, Option<String>)> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        let xff = forwarded_for.parse().unwrap();
        request.headers_mut().insert("x-forwarded-for", xff);
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client {
                ws,
                seen: Vec::new(),
                closed: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let retry = (response.headers().get("retry-after"))
                    .map(|v| v.to_str().unwrap().to_string());
                Err((response.status().as_u16(), retry))
            }
            Err(e) => panic!("ws connect failed: {e}"),
        }
    }

    /// Connects and sends `join`; returns the client and the first answer.
    pub async fn join(addr: SocketAddr, room: &str, secret: &str, name: &str) -> (Client, Value) {
        Client::join_session(addr, room, secret, name, None).await
    }

    pub async fn join_session(
        addr: SocketAddr,
        room: &str,
        secret: &str,
        name: &str,
        session: Option<&str>,
    ) -> (Client, Value) {
        let mut c = Client::connect(addr).await;
        let mut join =
            json!({"type": "join", "v": 1, "room": room, "secret": secret, "name": name});
        if let Some(s) = session {
            join["session"] = json!(s);
        }
        c.send(join).await;
        let first = c.next().await.expect("an answer to join");
        (c, first)
    }

    /// Connects and sends `join` with the host link and `creator` as the creator key.
    pub async fn join_as_creator(
        addr: SocketAddr,
        room: &Room,
        creator: &str,
        name: &str,
    ) -> (Client, Value) {
        let mut c = Client::connect(addr).await;
        let join = json!({"type": "join", "v": 1, "room": room.id, "secret": room.host_secret,
            "name": name, "creator": creator});
        c.send(join).await;
        let first = c.next().await.expect("an answer to join");
        (c, first)
    }

    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .expect("send");
    }

    /// Sends a text frame as it is (malformed JSON too); false once the socket is gone.
    pub async fn try_send_text(&mut self, text: String) -> bool {
        self.ws.send(Message::text(text)).await.is_ok()
    }

    /// The next JSON message, or the close code if the server closed the socket.
    pub async fn next(&mut self) -> Result<Value, Option<u16>> {
        match tokio::time::timeout(ANSWER, self.recv()).await {
            Ok(r) => r,
            Err(_) => panic!("no message within {ANSWER:?}; seen: {:#?}", self.seen),
        }
    }

    async fn recv(&mut self) -> Result<Value, Option<u16>> {
        if let Some(code) = self.closed {
            return Err(code);
        }
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    self.seen.push(v.clone());
                    return Ok(v);
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map(|f| u16::from(f.code));
                    self.closed = Some(code);
                    return Err(code);
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    self.closed = Some(None);
                    return Err(None);
                }
            }
        }
    }

    /// The next message of type `kind`, skipping others (they stay in `seen`).
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            match self.next().await {
                Ok(v) if v["type"] == kind => return v,
                Ok(_) => continue,
                Err(code) => panic!(
                    "closed ({code:?}) waiting for {kind}; seen: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// The next message, which must be an error with `code` (others in between are skipped).
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let e = self.expect("error").await;
        assert_eq!(e["code"], code, "{e}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e}");
        e
    }

    /// Waits for the server to close the socket and returns the close code.
    pub async fn expect_closed(&mut self) -> Option<u16> {
        loop {
            if let Err(code) = self.next().await {
                return code;
            }
        }
    }

    /// Everything that arrives within `window` (for asserting that nothing, or nothing of a
    /// kind, arrives).
    pub async fn drain(&mut self, window: Duration) -> Vec<Value> {
        let mut got = Vec::new();
        let until = tokio::time::Instant::now() + window;
        while let Ok(r) = tokio::time::timeout_at(until, self.recv()).await {
            match r {
                Ok(v) => got.push(v),
                Err(_) => break,
            }
        }
        got
    }

    /// Waits until the room has handled everything this socket sent before, and returns what
    /// arrived meanwhile. The room task handles one socket's messages in order and answers
    /// `lower_hand` for a participant that cannot exist with `unknown_participant`, changing
    /// nothing, so that answer marks the point.
    pub async fn sync(&mut self) -> Vec<Value> {
        self.send(json!({"type": "lower_hand", "participant": SYNC_ID}))
            .await;
        let mut between = Vec::new();
        loop {
            let v = self.next().await.expect("the socket stays open");
            if v["type"] == "error" && v["code"] == "unknown_participant" {
                return between;
            }
            between.push(v);
        }
    }

    /// Sends `value` and returns what arrived until the room had handled it.
    pub async fn roundtrip(&mut self, value: Value) -> Vec<Value> {
        self.send(value).await;
        self.sync().await
    }
}

/// A participant id no room hands out in a test.
const SYNC_ID: &str = "p4000000000";

/// The messages of type `kind` in `msgs`.
pub fn of_type<'a>(msgs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    msgs.iter().filter(|m| m["type"] == kind).collect()
}

/// The participant with `id` in a `joined` message's `participants`.
pub fn participant<'a>(joined: &'a Value, id: &str) -> Option<&'a Value> {
    joined["participants"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
}
