//! Bad input at the front door, over a real WebSocket and real HTTP on loopback: each case gets
//! its documented error code (docs/protocol.md), fatal ones close the socket, and the server
//! stays up for everyone else.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use aula_loadtest::http::{self, CreatedRoom, RoomKind, RoomOptions, ServerUrl};
use aula_signaling::{Config, RunningServer};
use common::{metric, raw_request};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn server(config: Config) -> (RunningServer, ServerUrl, CreatedRoom) {
    // Also makes a panic on a media thread end the process (the server would catch it).
    common::init_logging();
    let server = aula_signaling::start(config).await.expect("server starts");
    let url = ServerUrl::parse(&format!("http://{}", server.http_addr)).unwrap();
    let room = http::create_room(
        &url,
        &RoomOptions::no_lobby(RoomKind::Class).title("7b"),
        WAIT,
    )
    .await
    .expect("room");
    (server, url, room)
}

async fn connect(url: &ServerUrl) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url.ws_url())
        .await
        .expect("ws connects");
    ws
}

async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// The next JSON message, or `None` if the server closed the socket (with its close code).
async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("server answers in time");
        match frame {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).expect("json")),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// The next message, which must be an error with `code`.
async fn expect_error(ws: &mut Ws, code: &str) {
    let msg = next(ws).await.expect("an error message");
    assert_eq!(msg["type"], "error", "{msg}");
    assert_eq!(msg["code"], code, "{msg}");
    assert!(
        !msg["message"].as_str().unwrap_or("").is_empty(),
        "errors explain themselves"
    );
}

async fn expect_closed(ws: &mut Ws, code: u16) {
    assert_eq!(
        next(ws).await.err(),
        Some(Some(code)),
        "socket closed with {code}"
    );
}

fn join(room: &CreatedRoom, secret: &str, name: &str) -> Value {
    json!({"type": "join", "v": 1, "room": room.id, "secret": secret, "name": name})
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_socket_stays_usable() {
    let (server, url, room) = server(Config::for_tests()).await;
    let mut ws = connect(&url).await;

    ws.send(Message::text("{this is not json")).await.unwrap();
    expect_error(&mut ws, "bad_message").await;
    ws.send(Message::text("[1, 2, 3]")).await.unwrap();
    expect_error(&mut ws, "bad_message").await;
    send(&mut ws, json!({"type": "join", "v": 1})).await;
    expect_error(&mut ws, "bad_message").await;
    send(&mut ws, json!({"type": "teleport"})).await;
    expect_error(&mut ws, "unknown_type").await;
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    expect_error(&mut ws, "bad_message").await;
    send(&mut ws, json!({"type": "publish", "sdp": "v=0"})).await;
    expect_error(&mut ws, "not_joined").await;
    send(
        &mut ws,
        join(&room, room.participant_secret().unwrap(), "   "),
    )
    .await;
    expect_error(&mut ws, "bad_name").await;
    send(
        &mut ws,
        join(&room, room.participant_secret().unwrap(), &"x".repeat(41)),
    )
    .await;
    expect_error(&mut ws, "bad_name").await;
    // A right-to-left override makes "\u{202E}rebeW uarF" read as the teacher's name.
    send(
        &mut ws,
        join(
            &room,
            room.participant_secret().unwrap(),
            "\u{202E}rebeW uarF",
        ),
    )
    .await;
    expect_error(&mut ws, "bad_name").await;
    // Large frames within the limit (a class's SDP is 60-80 KB) take room of their own in the
    // read buffer (vendor/tungstenite); the frames after them are read as before.
    for _ in 0..2 {
        send(
            &mut ws,
            json!({"type": "publish", "sdp": "v".repeat(50 * 1024)}),
        )
        .await;
        expect_error(&mut ws, "not_joined").await;
    }

    // After all that, the same socket can still join.
    send(
        &mut ws,
        join(&room, room.participant_secret().unwrap(), "Anna"),
    )
    .await;
    let joined = next(&mut ws).await.unwrap();
    assert_eq!(joined["type"], "joined");
    assert_eq!(joined["you"]["role"], "participant");
    assert_eq!(joined["you"]["name"], "Anna");

    send(
        &mut ws,
        join(&room, room.participant_secret().unwrap(), "Anna"),
    )
    .await;
    expect_error(&mut ws, "already_joined").await;
    send(
        &mut ws,
        json!({"type": "publish", "sdp": "certainly not sdp"}),
    )
    .await;
    expect_error(&mut ws, "bad_sdp").await;
    send(&mut ws, json!({"type": "subscribe_answer", "sdp": "v=0"})).await;
    expect_error(&mut ws, "unexpected_answer").await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_rooms_secrets_and_versions_are_refused_and_closed() {
    let (server, url, room) = server(Config::for_tests()).await;
    // Counted in /metrics by code (process-wide: the other tests here may add to them).
    let counted = [
        "aula_errors_sent_total{code=\"unknown_room\"}",
        "aula_errors_sent_total{code=\"bad_secret\"}",
        "aula_errors_sent_total{code=\"unsupported_version\"}",
        "aula_websockets_closed_total{code=\"4000\"}",
    ];
    let mut before = Vec::new();
    for name in counted {
        before.push(metric(server.http_addr, name).await);
    }

    let mut ws = connect(&url).await;
    let unknown =
        json!({"type": "join", "v": 1, "room": "nosuchroom", "secret": "00", "name": "A"});
    send(&mut ws, unknown).await;
    expect_error(&mut ws, "unknown_room").await;
    expect_closed(&mut ws, 4000).await;

    let mut ws = connect(&url).await;
    send(
        &mut ws,
        join(&room, "0123456789abcdef0123456789abcdef", "Mallory"),
    )
    .await;
    expect_error(&mut ws, "bad_secret").await;
    expect_closed(&mut ws, 4000).await;

    let mut ws = connect(&url).await;
    let mut old = join(&room, room.participant_secret().unwrap(), "Anna");
    old["v"] = json!(0);
    send(&mut ws, old).await;
    expect_error(&mut ws, "unsupported_version").await;
    expect_closed(&mut ws, 4000).await;
    for (name, was) in counted.iter().zip(&before) {
        let by = if name.contains("4000") { 3 } else { 1 };
        assert!(metric(server.http_addr, name).await >= was + by, "{name}");
    }

    // The host link gives the host role; the role field a client might send is ignored.
    let mut ws = connect(&url).await;
    let mut claim = join(&room, room.participant_secret().unwrap(), "Eve");
    claim["role"] = json!("host");
    send(&mut ws, claim).await;
    assert_eq!(next(&mut ws).await.unwrap()["you"]["role"], "participant");
    let mut ws = connect(&url).await;
    send(
        &mut ws,
        join(&room, room.host_secret().unwrap(), "Frau Weber"),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["you"]["role"], "host");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_message_is_refused_with_too_large() {
    let (server, url, _room) = server(Config::for_tests()).await;
    let mut ws = connect(&url).await;
    let big = json!({"type": "leave", "padding": "x".repeat(70 * 1024)});
    send(&mut ws, big).await;
    expect_error(&mut ws, "too_large").await;
    expect_closed(&mut ws, 1009).await;
    // Far beyond any limit: cut off by the WebSocket layer, with the close it documents (not
    // a TCP reset); the server lives on.
    let mut ws = connect(&url).await;
    let _ = ws.send(Message::text("y".repeat(2 * 1024 * 1024))).await;
    expect_closed(&mut ws, 1009).await;
    assert!(
        http::create_room(&url, &RoomOptions::default(), WAIT)
            .await
            .is_ok(),
        "server still serves"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_socket_that_never_joins_is_closed() {
    let config = Config {
        ws_join_timeout_secs: 1,
        ..Config::for_tests()
    };
    let (server, url, room) = server(config).await;
    let addr: SocketAddr = url.authority().parse().unwrap();
    let mut idle = connect(&url).await;
    // One that joins in time stays, well past the deadline.
    let mut joined = connect(&url).await;
    send(
        &mut joined,
        join(&room, room.participant_secret().unwrap(), "Anna"),
    )
    .await;
    assert_eq!(next(&mut joined).await.unwrap()["type"], "joined");
    expect_closed(&mut idle, 1008).await;
    assert_eq!(metric(addr, "aula_websockets_without_join_total").await, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send(&mut joined, json!({"type": "raise_hand"})).await;
    assert_eq!(
        next(&mut joined).await.unwrap()["type"],
        "participant_updated"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn protocol_violations_are_closed_with_their_own_codes() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let (server, url, _room) = server(Config::for_tests()).await;
    let closed = |code: u16| format!("aula_websockets_closed_total{{code=\"{code}\"}}");
    let before_1007 = metric(server.http_addr, &closed(1007)).await;
    let before_1002 = metric(server.http_addr, &closed(1002)).await;
    // A text frame that is not UTF-8: 1007.
    let mut ws = connect(&url).await;
    let bad = Frame::message(vec![0x7b, 0xff, 0xfe, 0x7d], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(bad)).await.expect("send");
    expect_closed(&mut ws, 1007).await;

    // An unmasked frame from a client (RFC 6455 5.1), written by hand after a real
    // handshake: 1002.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(url.authority())
        .await
        .unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        url.authority()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        tcp.read_exact(&mut byte)
            .await
            .expect("the handshake answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let text = br#"{"type":"ping"}"#;
    let mut frame = vec![0x81, text.len() as u8];
    frame.extend_from_slice(text);
    tcp.write_all(&frame).await.unwrap();
    let mut answer = [0u8; 4];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut answer))
        .await
        .expect("an answer in time")
        .expect("a close frame");
    assert_eq!(answer[0], 0x88, "a close frame: {answer:?}");
    assert_eq!(
        u16::from_be_bytes([answer[2], answer[3]]),
        1002,
        "{answer:?}"
    );
    // Each counted by its code in /metrics.
    assert!(metric(server.http_addr, &closed(1007)).await > before_1007);
    assert!(metric(server.http_addr, &closed(1002)).await > before_1002);
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_room_refuses_the_next_participant() {
    let config = Config {
        max_participants_per_room: 2,
        ..Config::for_tests()
    };
    let (server, url, room) = server(config).await;
    let secret = room.participant_secret().unwrap();
    let mut first = connect(&url).await;
    send(&mut first, join(&room, secret, "A")).await;
    assert_eq!(next(&mut first).await.unwrap()["type"], "joined");
    let mut second = connect(&url).await;
    send(&mut second, join(&room, secret, "B")).await;
    assert_eq!(next(&mut second).await.unwrap()["type"], "joined");
    // The first one hears of the second.
    let seen = next(&mut first).await.unwrap();
    assert_eq!(seen["type"], "participant_joined");
    assert_eq!(seen["participant"]["name"], "B");

    let mut third = connect(&url).await;
    send(&mut third, join(&room, secret, "C")).await;
    expect_error(&mut third, "room_full").await;
    expect_closed(&mut third, 4000).await;
    server.shutdown().await;
}

#[tokio::test]
async fn leaving_tells_the_others_and_an_empty_room_ends() {
    let (server, url, room) = server(Config::for_tests()).await;
    let secret = room.participant_secret().unwrap();
    let mut a = connect(&url).await;
    send(&mut a, join(&room, secret, "A")).await;
    next(&mut a).await.unwrap();
    let mut b = connect(&url).await;
    send(&mut b, join(&room, secret, "B")).await;
    let b_id = next(&mut b).await.unwrap()["you"]["id"].clone();
    assert_eq!(next(&mut a).await.unwrap()["type"], "participant_joined");

    drop(b); // the tab closes without a goodbye
    // The seat is kept for a resume (3 s in Config::for_tests), then B leaves.
    let away = next(&mut a).await.unwrap();
    assert_eq!(away["type"], "participant_updated", "{away}");
    assert_eq!(away["participant"]["reconnecting"], true, "{away}");
    let left = next(&mut a).await.unwrap();
    assert_eq!(left, json!({"type": "participant_left", "id": b_id}));
    send(&mut a, json!({"type": "leave"})).await;
    expect_closed(&mut a, 1000).await;

    // Config::for_tests has a 2 s grace; after it the links stop working and nothing of the
    // room is left, neither in signaling nor in the media plane.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut late = connect(&url).await;
    send(&mut late, join(&room, secret, "Late")).await;
    expect_error(&mut late, "unknown_room").await;
    assert_eq!(metric(server.http_addr, "aula_rooms").await, 0);
    assert_eq!(metric(server.http_addr, "aula_media_rooms").await, 0);
    server.shutdown().await;
}

async fn raw_post(addr: SocketAddr, body: &str) -> (u16, Value) {
    let (status, body) = raw_request(addr, "POST", "/api/rooms", body).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn room_creation_refuses_bad_bodies() {
    let (server, _url, _room) = server(Config::for_tests()).await;
    let (status, body) = raw_post(server.http_addr, "{\"title\": ").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let long = json!({"title": "t".repeat(81)}).to_string();
    let (status, _) = raw_post(server.http_addr, &long).await;
    assert_eq!(status, 400);
    for bad in [
        r#"{"kind": "seminar"}"#,
        r#"{"lobby": "yes"}"#,
        r#"{"titel": "7b"}"#,
    ] {
        let (status, body) = raw_post(server.http_addr, bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("bad_request")),
            "{bad}"
        );
    }
    let (status, body) = raw_post(server.http_addr, r#"{"kind": "meeting"}"#).await;
    assert_eq!((status, body["kind"].as_str()), (201, Some("meeting")));
    let (status, body) = raw_post(server.http_addr, "").await;
    assert_eq!(status, 201, "an empty body makes an untitled room");
    assert_eq!(body["kind"], "class", "rooms are classes unless asked");
    let host = body["host_url"].as_str().unwrap();
    let participant = body["participant_url"].as_str().unwrap();
    assert_ne!(
        http::secret_from_url(host),
        http::secret_from_url(participant)
    );
    assert_eq!(
        http::secret_from_url(host).map(str::len),
        Some(32),
        "128-bit secrets"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn room_info_tells_title_and_end_without_secrets() {
    let (server, _url, room) = server(Config::for_tests()).await;
    let addr = server.http_addr;
    let get = |path: String| async move {
        let (status, body) = raw_request(addr, "GET", &path, "").await;
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    let (status, body) = get(format!("/api/rooms/{}", room.id)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": room.id, "title": "7b", "kind": "class"}));
    let (status, body) = get("/api/rooms/nosuchroom".into()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_room")));
    server.shutdown().await;
}

#[tokio::test]
async fn room_limit_answers_server_busy() {
    let config = Config {
        max_rooms: 1,
        ..Config::for_tests()
    };
    let (server, _url, _room) = server(config).await;
    let (status, body) = raw_post(server.http_addr, "{}").await;
    assert_eq!((status, body["code"].as_str()), (503, Some("server_busy")));
    server.shutdown().await;
}
