//! Another site's page cannot use a visitor's browser against Aula: rooms are created only with
//! JSON and only from our own origin, WebSockets open only from it, and `/metrics` answers only
//! this machine directly or a scraper with the token; each refusal is counted.

use crate::common;

use std::net::SocketAddr;

use common::client::{create, server, server_with};
use common::metric;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One HTTP/1.1 request with `headers` (`Name: value` lines); the status and body.
async fn request(addr: SocketAddr, head: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{head} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let (status, body) = aula_loadtest::http::parse_response(&raw).expect("an HTTP response");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn rooms_are_created_with_json_from_our_own_origin_only() {
    let (_server, addr) = server().await;
    let host = format!("Host: {addr}");
    let own = format!("Origin: http://{addr}");
    let post = "POST /api/rooms";
    let json_type = "Content-Type: application/json";
    let body = r#"{"kind": "class"}"#;

    // A form or text/plain post, which any page can send without asking: refused.
    for ct in [
        "Content-Type: text/plain",
        "Content-Type: application/x-www-form-urlencoded",
    ] {
        let (status, answer) = request(addr, post, &[&host, &own, ct], body).await;
        assert_eq!(status, 415, "{answer}");
        assert!(answer.contains("not_json"), "{answer}");
    }
    let (status, _) = request(addr, post, &[&host, &own], body).await;
    assert_eq!(status, 415, "no content type");

    // JSON from another site's page (it would need a CORS preflight, which is never granted,
    // but the Origin alone already says where it came from).
    for origin in [
        "Origin: https://evil.example",
        "Origin: null",
        "Origin: http://127.0.0.1:1",
    ] {
        let (status, answer) = request(addr, post, &[&host, origin, json_type], body).await;
        assert_eq!(status, 403, "{origin}: {answer}");
        assert!(answer.contains("forbidden_origin"), "{answer}");
    }
    assert_eq!(metric(addr, "aula_origins_refused_total").await, 3);

    // Our own page, and a script (no Origin at all).
    let charset = "Content-Type: application/json; charset=utf-8";
    let (status, answer) = request(addr, post, &[&host, &own, charset], body).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = request(addr, post, &[&host, json_type], body).await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn websockets_open_from_our_origin_or_a_listed_one_only() {
    let config = aula_signaling::Config {
        allowed_origins: vec!["https://portal.schule.de".into()],
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let connect = |origin: Option<String>| async move {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req).await
    };
    let refused = connect(Some("https://evil.example".into())).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("another site's page must not connect: {other:?}"),
    }
    for origin in [
        Some(format!("http://{addr}")),
        Some("https://portal.schule.de".into()),
        None,
    ] {
        let (mut ws, _) = connect(origin.clone()).await.expect("connects");
        use futures_util::{SinkExt, StreamExt};
        let join = json!({"type": "join", "v": 1, "room": room.id,
            "secret": room.participant_secret, "name": "Anna"});
        ws.send(join.to_string().into()).await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert!(
            first.to_text().unwrap().contains("\"joined\""),
            "{origin:?}: {first}"
        );
    }
    assert_eq!(metric(addr, "aula_origins_refused_total").await, 1);
}

#[tokio::test]
async fn metrics_answer_this_machine_directly_or_a_scraper_with_the_token() {
    let config = aula_signaling::Config {
        metrics_token: Some("prometheus-7f3c9a".into()),
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let host = format!("Host: {addr}");
    let get = "GET /metrics";
    let (status, body) = request(addr, get, &[&host], "").await;
    assert_eq!(status, 200);
    assert!(body.contains("aula_rooms "), "{body}");
    // Through a reverse proxy (which connects from loopback too): refused without the token.
    for proxied in [
        "X-Forwarded-For: 192.0.2.7",
        "Forwarded: for=192.0.2.7",
        "X-Real-IP: 192.0.2.7",
    ] {
        let (status, _) = request(addr, get, &[&host, proxied], "").await;
        assert_eq!(status, 403, "{proxied}");
    }
    let wrong = "Authorization: Bearer prometheus-7f3c9b";
    let (status, _) = request(addr, get, &[&host, "X-Forwarded-For: 192.0.2.7", wrong], "").await;
    assert_eq!(status, 403);
    let right = "Authorization: Bearer prometheus-7f3c9a";
    let (status, body) =
        request(addr, get, &[&host, "X-Forwarded-For: 192.0.2.7", right], "").await;
    assert_eq!(status, 200);
    assert!(body.contains("aula_metrics_refused_total 4"), "{body}");
}
