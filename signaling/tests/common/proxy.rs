//! A reverse proxy from docs/operations.md in front of the real server: the example as the
//! document has it, the daemon that runs it, and what a class needs to get through it.

use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use super::tls::{TestCa, connector, create_room, get, wss_join};

/// A server process, stopped when the test ends: SIGTERM first, so nginx's master stops its
/// workers (killed outright, it left them running, one more with each run of the suite);
/// SIGKILL if it has not exited within 5 s.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = self.0.id().to_string();
            let _ = std::process::Command::new("kill").arg(&pid).status();
            let asked = std::time::Instant::now();
            while asked.elapsed() < std::time::Duration::from_secs(5) {
                if !matches!(self.0.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first ```` ```fence ```` block after the heading `section` in docs/operations.md.
pub fn documented_block(section: &str, fence: &str) -> String {
    let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    let text = std::fs::read_to_string(doc).expect("docs/operations.md");
    let after = text.split(section).nth(1).expect("the section");
    let block = (after.split(&format!("```{fence}\n")).nth(1)).expect("its example");
    block.split("```").next().unwrap().to_string()
}

pub async fn wait_listening(addr: SocketAddr) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{addr} listens"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Through the proxy at `proxy` (HTTPS with a certificate of `ca`), as `host`: the start page
/// with HSTS, `/metrics` not exposed, a room whose links name `host` (port and all), and a
/// join over wss.
pub async fn a_class_gets_through(ca: &TestCa, proxy: SocketAddr, host: &str) {
    let tls = connector(&ca.pem());
    let page = get(&tls, proxy, host, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000"),
        "HSTS through the proxy"
    );
    let metrics = get(&tls, proxy, host, "/metrics").await;
    assert_eq!(metrics.status, 403, "the proxy does not expose /metrics");
    let room = create_room(&tls, proxy, host).await;
    let link = room["participant_url"].as_str().unwrap();
    assert!(link.starts_with(&format!("https://{host}/room/")), "{link}");
    let joined = wss_join(&tls, proxy, host, &room).await;
    assert_eq!(joined["type"], "joined", "{joined}");
}
