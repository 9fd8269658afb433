//! What an HTTP connection may cost: one that sends nothing, half a request, or a body a byte at
//! a time is closed by its deadline; beyond `max_connections` a connection gets a plain `503`
//! at once; and each is counted.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::client::{Client, create, server_with};
use common::metric;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Everything the server sends until it closes, and how long that took.
async fn until_closed(mut tcp: TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "still open after 20 s");
    (
        String::from_utf8_lossy(&raw).into_owned(),
        started.elapsed(),
    )
}

async fn connect(addr: SocketAddr, send: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(send.as_bytes()).await.unwrap();
    tcp
}

/// A `/healthz` probe: its connection, if the server answered it `200` (it had a place).
async fn served(addr: SocketAddr) -> Option<TcpStream> {
    let mut tcp = connect(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = [0u8; 512];
    let n = tcp.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .starts_with("HTTP/1.1 200")
        .then_some(tcp)
}

/// Waits (up to 5 s) until a request is served again after a held connection closed: the
/// server notices the close on its next read.
async fn served_again(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if served(addr).await.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a connection closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_trickled_requests_end_at_their_deadlines() {
    let (_server, addr) = server_with(aula_signaling::Config::for_tests()).await;
    let silent = connect(addr, "").await;
    let half = connect(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    let body = "POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{\"kind\":";
    let trickled = connect(addr, body).await;
    let (silent, half, trickled) = tokio::join!(
        until_closed(silent),
        until_closed(half),
        until_closed(trickled)
    );
    for (what, (text, took)) in [("silent", silent), ("half-sent", half)] {
        assert!(
            took >= Duration::from_secs(8) && took <= Duration::from_secs(13),
            "{what}: closed after {took:?}"
        );
        assert!(!text.contains("200 OK"), "{what}: {text}");
    }
    let (text, took) = trickled;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"timeout\""), "{text}");
    assert!(took >= Duration::from_secs(8), "{took:?}");
    assert_eq!(metric(addr, "aula_http_requests_timed_out_total").await, 1);

    // A well-behaved client on a kept-alive connection is served as before.
    let mut tcp = connect(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = [0u8; 512];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_plain_503_and_room_again_when_one_closes() {
    let config = aula_signaling::Config {
        max_connections: 4,
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    // A WebSocket holds its place for as long as it is open.
    let (mut anna, first) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    assert_eq!(first["type"], "joined");
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(addr, "").await);
    }
    let (text, took) = until_closed(connect(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("Retry-After: 5"), "{text}");
    assert!(
        took < Duration::from_secs(2),
        "refused at once, not left waiting: {took:?}"
    );
    // The WebSocket goes on meanwhile.
    anna.send(json!({"type": "ping"})).await;
    anna.expect("pong").await;

    drop(held.pop());
    served_again(addr).await;
    // Counted: the probe's refusal, and any of the retries above; metrics themselves need a
    // place, so ask after letting go of another.
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(metric(addr, "aula_http_connections_refused_total").await >= 1);
}

/// One client address may hold `connections_per_address` connections; the next gets the
/// plain `503`, is counted, and the others are served as before. The client here is this
/// machine's LAN address (loopback is never counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_an_addresss_connections_a_plain_503() {
    let lan = aula_loadtest::lan_ipv4()
        .expect("this test needs a non-loopback IPv4 address (a LAN interface)");
    let config = aula_signaling::Config {
        http_addr: SocketAddr::new(lan, 0),
        connections_per_address: 3,
        // /metrics answers loopback, or a LAN client with the token.
        metrics_token: Some("scrape".into()),
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(addr, "").await);
    }
    let (text, took) = until_closed(connect(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(took < Duration::from_secs(2), "refused at once: {took:?}");
    // One closes: the address has room again (the server notices on its next read).
    drop(held.pop());
    served_again(addr).await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ask = "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer scrape\r\n\
               Connection: close\r\n\r\n";
    let (text, _) = until_closed(connect(addr, ask).await).await;
    let refused = "aula_address_refused_total{cap=\"connections\"} ";
    let count: u64 = (text.lines().find_map(|l| l.strip_prefix(refused)))
        .unwrap_or_else(|| panic!("no {refused}in {text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 1, "counted");
}

/// A body far larger than any route takes is refused (`413`), not read into memory: the
/// routes take a few hundred bytes, and axum would buffer up to 2 MB per connection.
#[tokio::test]
async fn a_body_larger_than_any_route_takes_is_refused() {
    let (_server, addr) = server_with(aula_signaling::Config::for_tests()).await;
    let huge = format!(
        "{{\"name\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(100_000)
    );
    for path in ["/api/staff/sign-in", "/api/rooms"] {
        let (status, _) = common::raw_request(addr, "POST", path, &huge).await;
        assert_eq!(status, 413, "{path}");
    }
    let (status, _) = common::raw_request(addr, "POST", "/api/rooms", "{}").await;
    assert_eq!(status, 201, "a small body still creates a room");
}

/// A client that asks for pages and then reads nothing (a tiny receive window, the responses
/// piling up), or reads a kilobyte now and then, holds its connection only until the server's
/// writes have moved less than 16 KiB in 30 s: then the connection fails and its place under
/// the cap is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_or_next_to_nothing_loses_its_connection_after_30_s() {
    let config = aula_signaling::Config {
        max_connections: 2,
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let ask = "GET /static/i18n.js HTTP/1.1\r\nHost: x\r\n\r\n".repeat(400);
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut tcp = socket.connect(addr).await.unwrap();
        tcp.write_all(ask.as_bytes()).await.unwrap();
        stalled.push(tcp);
    }
    let started = Instant::now();
    // The second reads a kilobyte every 5 s.
    let mut trickle = stalled.pop().unwrap();
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            match trickle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    // Their responses fill both sides' buffers; meanwhile they hold both places.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (text, _) = until_closed(connect(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await).await;
    assert!(
        text.starts_with("HTTP/1.1 503"),
        "the places are taken: {text}"
    );

    // Both places free again: two probes served and held open at once.
    let deadline = started + Duration::from_secs(45);
    let mut held = Vec::new();
    while held.len() < 2 {
        if let Some(probe) = served(addr).await {
            held.push(probe);
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "still held after 45 s ({} free)",
            held.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(25),
        "not before the stall's 30 s: {took:?}"
    );
    reader.abort();
    drop(stalled);
}
