//! HTTPS from certificate files (`tls_cert`, `tls_key`): pages and a WebSocket join over TLS,
//! HSTS on TLS responses only, plain HTTP redirected (308, path and query kept) except
//! `/healthz` and `/metrics`; a TLS handshake never finished is closed after the header
//! timeout. (Reloading renewed files is a unit test in src/tls.rs.)

mod common;

use std::time::Duration;

use common::tls::{TestCa, connect, connector, get, get_plain};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const HOST: &str = "aula.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_files_with_hsts_a_wss_join_a_redirect_from_http_and_a_handshake_deadline() {
    let dir = tempdir("files");
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(&[HOST]);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let mut config = aula_signaling::Config::for_tests();
    config.tls_cert = Some(cert_path.clone());
    config.tls_key = Some(key_path.clone());
    let (server, http) = common::client::server_with(config).await;
    let https = server.https_addr.expect("an HTTPS listener");
    let tls = connector(&ca.pem());
    let host = format!("{HOST}:{}", https.port());

    let page = get(&tls, https, &host, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert!(page.header("content-security-policy").is_some());

    // Plain HTTP: everything but health and metrics goes to HTTPS, path and query kept.
    let plain = get_plain(http, "aula.test:8080", "/room/abc?x=1&y=2").await;
    assert_eq!(plain.status, 308);
    assert_eq!(
        plain.header("location"),
        Some(format!("https://{HOST}:{}/room/abc?x=1&y=2", https.port()).as_str())
    );
    assert_eq!(
        plain.header("strict-transport-security"),
        None,
        "not over TLS"
    );
    let health = get_plain(http, "aula.test:8080", "/healthz").await;
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(health.header("strict-transport-security"), None);
    let metrics = get_plain(http, "127.0.0.1", "/metrics").await;
    assert_eq!(metrics.status, 200, "metrics from this machine, plain");

    // A room created over HTTPS gets https links; its page joins over wss with an https Origin.
    let room = create_room(&tls, https, &host).await;
    assert!(
        room["participant_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://{host}/room/")),
        "{room}"
    );
    let joined = wss_join(&tls, https, &host, &room).await;
    assert_eq!(joined["type"], "joined", "{joined}");

    // A connection that never finishes its TLS handshake is closed like one that never sends
    // its request headers.
    let mut silent = tokio::net::TcpStream::connect(https).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        use tokio::io::AsyncReadExt;
        silent.read(&mut buf).await
    });
    assert!(
        matches!(read.await, Ok(Ok(0)) | Ok(Err(_))),
        "closed, not left open"
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "closed after {waited:?}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn create_room(
    tls: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    host: &str,
) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = connect(tls, addr, HOST).await.unwrap();
    let body = json!({"kind": "class", "lobby": false}).to_string();
    let request = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {host}\r\nOrigin: https://{host}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let (status, body) = aula_loadtest::http::parse_response(&raw).unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Opens `/ws` over TLS as a page of this server would (its https Origin) and joins.
async fn wss_join(
    tls: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    host: &str,
    room: &Value,
) -> Value {
    let stream = connect(tls, addr, HOST).await.unwrap();
    let mut request = format!("wss://{host}/ws").into_client_request().unwrap();
    let origin = format!("https://{host}").parse().unwrap();
    request.headers_mut().insert("origin", origin);
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("wss upgrade");
    let url = room["participant_url"].as_str().unwrap();
    let secret = url.split("#k=").nth(1).unwrap();
    let join =
        json!({"type": "join", "v": 1, "room": room["id"], "secret": secret, "name": "Anna"});
    ws.send(Message::text(join.to_string())).await.unwrap();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
        match next.expect("an answer").expect("open").expect("a message") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            _ => continue,
        }
    }
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aula-https-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
