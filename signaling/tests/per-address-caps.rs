//! What one client address may hold and start (docs/operations.md, "Per-address caps"): open
//! WebSockets, rooms created (open at once and an hour's worth), joins a minute, people in one
//! lobby. Each refusal is clear (`429` with `Retry-After`, or an `error` the page acts on) and
//! counted; other addresses, loopback and `exempt_networks` are not affected.
//!
//! Distinct addresses come through a "reverse proxy on this machine": requests from loopback
//! with `X-Forwarded-For`, which the server counts under the forwarded address.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::client::{Client, create, server_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Small caps, so a test reaches each with a few requests.
fn config() -> aula_signaling::Config {
    aula_signaling::Config {
        sockets_per_address: 3,
        rooms_per_address_per_hour: 3,
        open_rooms_per_address: 2,
        joins_per_address_per_minute: 4,
        lobby_per_address: 2,
        exempt_networks: vec!["198.51.100.0/24".into()],
        ..aula_signaling::Config::for_tests()
    }
}

/// `aula_address_refused_total{cap="…"}`.
async fn refused(addr: SocketAddr, cap: &str) -> u64 {
    let (_, body) = common::raw_request(addr, "GET", "/metrics", "").await;
    let text = String::from_utf8(body).unwrap();
    let prefix = format!("aula_address_refused_total{{cap=\"{cap}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).expect(cap);
    line[prefix.len()..].parse().unwrap()
}

/// `POST /api/rooms` from `client` (through the local proxy); status, Retry-After, answer.
async fn create_from(addr: SocketAddr, client: &str) -> (u16, Option<String>, Value) {
    let body = r#"{"kind": "meeting"}"#;
    let req = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: {client}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let retry = (text.lines()).find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after: ")
            .map(String::from)
    });
    let (status, body) = aula_loadtest::http::parse_response(&raw).unwrap();
    (status, retry, serde_json::from_slice(&body).unwrap())
}

/// Ends a room as its host.
async fn end(addr: SocketAddr, room: &Value) {
    let id = room["id"].as_str().unwrap();
    let secret = room["host_url"]
        .as_str()
        .unwrap()
        .split("#k=")
        .nth(1)
        .unwrap();
    let (mut host, _) = Client::join(addr, id, secret, "Frau Weber").await;
    host.send(json!({"type": "end_room"})).await;
    host.expect_closed().await;
}

#[tokio::test]
async fn open_websockets_are_capped_per_address_but_never_for_loopback() {
    let (_server, addr) = server_with(config()).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect_from(addr, "192.0.2.1").await.unwrap());
    }
    let (status, retry) = Client::connect_from(addr, "192.0.2.1").await.err().unwrap();
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("60"));
    assert_eq!(refused(addr, "sockets").await, 1);
    // Another address, an exempt one, and this machine itself are not held back.
    Client::connect_from(addr, "192.0.2.2").await.unwrap();
    for _ in 0..5 {
        held.push(Client::connect_from(addr, "198.51.100.7").await.unwrap());
        held.push(Client::connect(addr).await);
    }
    // A socket that closes gives its place back.
    drop(held.remove(0));
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = Client::connect_from(addr, "192.0.2.1").await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the closed socket's place came back");
}

#[tokio::test]
async fn rooms_are_capped_per_address_open_at_once_and_per_hour() {
    let (_server, addr) = server_with(config()).await;
    let mut rooms = Vec::new();
    for _ in 0..2 {
        let (status, _, answer) = create_from(addr, "192.0.2.1").await;
        assert_eq!(status, 201, "{answer}");
        rooms.push(answer);
    }
    let (status, retry, answer) = create_from(addr, "192.0.2.1").await;
    assert_eq!((status, retry.as_deref()), (429, Some("60")), "{answer}");
    assert_eq!(answer["code"], "too_many_rooms");
    assert_eq!(refused(addr, "open_rooms").await, 1);
    assert_eq!(
        create_from(addr, "192.0.2.2").await.0,
        201,
        "another address"
    );

    // The host ends one: its place comes back, and the hour's third room may be created.
    end(addr, &rooms[0]).await;
    let mut third = 0;
    for _ in 0..50 {
        third = create_from(addr, "192.0.2.1").await.0;
        if third == 201 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(third, 201);
    // Three an hour: with a place open again, the fourth still waits 20 minutes.
    end(addr, &rooms[1]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, retry, _) = create_from(addr, "192.0.2.1").await;
    assert_eq!((status, retry.as_deref()), (429, Some("1200")));
    assert!(refused(addr, "rooms_per_hour").await >= 1);
    // A school's NAT listed in exempt_networks creates what it needs.
    for _ in 0..5 {
        assert_eq!(create_from(addr, "198.51.100.7").await.0, 201);
    }
}

#[tokio::test]
async fn joins_are_capped_per_address_per_minute_and_the_page_is_told_to_retry() {
    let (_server, addr) = server_with(config()).await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let join = |name: &str| json!({"type": "join", "v": 1, "room": room.id, "secret": room.participant_secret, "name": name});
    for i in 0..4 {
        let mut c = Client::connect_from(addr, "192.0.2.5").await.unwrap();
        c.send(join(&format!("Kind {i}"))).await;
        assert_eq!(c.next().await.unwrap()["type"], "joined");
    }
    let mut c = Client::connect_from(addr, "192.0.2.5").await.unwrap();
    c.send(join("Kind 5")).await;
    let e = c.expect_error("server_busy").await;
    assert_eq!(e["retry_after_secs"], 15, "{e}");
    assert_eq!(c.expect_closed().await, Some(1013));
    assert_eq!(refused(addr, "joins").await, 1);
    let mut other = Client::connect_from(addr, "192.0.2.6").await.unwrap();
    other.send(join("Nachbar")).await;
    assert_eq!(other.next().await.unwrap()["type"], "joined");
}

#[tokio::test]
async fn one_address_fills_only_its_share_of_a_lobby() {
    let (_server, addr) = server_with(config()).await;
    let room = create(addr, json!({"kind": "class"})).await;
    let knock = |name: &str| json!({"type": "join", "v": 1, "room": room.id, "secret": room.participant_secret, "name": name});
    let mut waiting = Vec::new();
    for i in 0..2 {
        let mut c = Client::connect_from(addr, "192.0.2.7").await.unwrap();
        c.send(knock(&format!("Fremd {i}"))).await;
        assert_eq!(c.next().await.unwrap()["type"], "lobby");
        waiting.push(c);
    }
    let mut third = Client::connect_from(addr, "192.0.2.7").await.unwrap();
    third.send(knock("Fremd 3")).await;
    let e = third.expect_error("room_full").await;
    assert!(
        e["message"].as_str().unwrap().contains("your network"),
        "{e}"
    );
    assert_eq!(third.expect_closed().await, Some(4000));
    assert_eq!(refused(addr, "lobby").await, 1);
    // Pupils from elsewhere, and from this machine, still knock.
    let mut anna = Client::connect_from(addr, "192.0.2.8").await.unwrap();
    anna.send(knock("Anna")).await;
    assert_eq!(anna.next().await.unwrap()["type"], "lobby");
    for i in 0..3 {
        let (_, first) =
            Client::join(addr, &room.id, &room.participant_secret, &format!("L{i}")).await;
        assert_eq!(first["type"], "lobby");
    }
}
