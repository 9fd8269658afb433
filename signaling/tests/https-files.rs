//! HTTPS from certificate files (`tls_cert`, `tls_key`): pages and a WebSocket join over TLS,
//! HSTS on TLS responses only, plain HTTP redirected (308, path and query kept) except
//! `/healthz` and `/metrics`; a TLS handshake never finished is closed after the header
//! timeout. (Reloading renewed files is a unit test in src/tls.rs.)

use crate::common;

use std::time::Duration;

use common::tls::{TestCa, connector, create_room, get, get_plain, wss_join};

const HOST: &str = "aula.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_files_with_hsts_a_wss_join_a_redirect_from_http_and_a_handshake_deadline() {
    let dir = common::temp_dir("https-files");
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(&[HOST]);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let mut config = aula_signaling::Config::for_tests();
    config.tls_cert = Some(cert_path.clone());
    // The certificate's name, as docs/operations.md says: links are built only for known names.
    config.allowed_hosts = vec![HOST.into()];
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
}
