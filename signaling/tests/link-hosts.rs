//! A room's links name `public_url`, or the host the request named only if this server goes
//! by it: `localhost`, an IP address of this machine, or one of `allowed_hosts`. Any other
//! host is refused (`421`, `unknown_host`, counted), so nobody can make a teacher share links
//! to a name nobody configured.

use crate::common;

use std::net::SocketAddr;

use common::client::{server, server_with};
use common::metric;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `POST /api/rooms` naming `host`, with `extra` header lines; the status and the JSON answer.
async fn create_at(addr: SocketAddr, host: &str, extra: &str) -> (u16, Value) {
    let body = r#"{"kind": "class"}"#;
    let req = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let (status, body) = aula_loadtest::http::parse_response(&raw).expect("an HTTP response");
    (status, serde_json::from_slice(&body).expect("JSON"))
}

fn link(answer: &Value) -> &str {
    answer["participant_url"].as_str().expect("a link")
}

#[tokio::test]
async fn without_config_links_name_this_machine_or_localhost_and_no_other_host() {
    let (_server, addr) = server().await;
    let port = addr.port();

    let (status, answer) = create_at(addr, "evil.example", "").await;
    assert_eq!(status, 421, "{answer}");
    assert_eq!(answer["code"], "unknown_host");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("public_url"),
        "tells what to set: {message}"
    );
    assert_eq!(metric(addr, "aula_hosts_refused_total").await, 1);
    assert_eq!(metric(addr, "aula_rooms").await, 0, "no room without links");

    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, answer) = create_at(addr, &host, "").await;
        assert_eq!(status, 201, "{host}: {answer}");
        assert!(
            link(&answer).starts_with(&format!("http://{host}/room/")),
            "{answer}"
        );
    }
    assert_eq!(metric(addr, "aula_hosts_refused_total").await, 1);
}

#[tokio::test]
async fn allowed_hosts_and_public_url_name_the_links() {
    let config = aula_signaling::Config {
        allowed_hosts: vec!["aula.schule.de".into()],
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let proxy = "X-Forwarded-Proto: https\r\n";
    let (status, answer) = create_at(addr, "aula.schule.de", proxy).await;
    assert_eq!(status, 201, "{answer}");
    assert!(link(&answer).starts_with("https://aula.schule.de/room/"));
    let (status, _) = create_at(addr, "aula.schule.de.evil.example", proxy).await;
    assert_eq!(status, 421);

    let config = aula_signaling::Config {
        public_url: Some("https://aula.schule.de/".into()),
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = server_with(config).await;
    let (status, answer) = create_at(addr, "evil.example", "").await;
    assert_eq!(status, 201, "public_url names the links whatever the Host");
    assert!(link(&answer).starts_with("https://aula.schule.de/room/"));
}
