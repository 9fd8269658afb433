//! A certificate over ACME: Aula started with `domain` gets one from a real ACME server
//! (Debian's `pebble`, with `pebble-challtestsrv` as its DNS, which answers 127.0.0.1 for
//! every name), whose TLS-ALPN-01 validation connects to Aula's HTTPS listener. Pages are
//! then served with the issued certificate and HSTS; a restart deploys it from the cache
//! without a new order. Without pebble the test says it is skipped and passes, unless
//! `AULA_REQUIRE_PEBBLE=1` (run-tests.sh sets it).

use crate::common;
use common::free_port;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tls::{TestCa, connector, get, try_get};
use tokio_rustls::TlsConnector;

const DOMAIN: &str = "aula.test";
/// Ordering takes a few seconds (rustls-acme polls the authorization after 1 s, 2 s…); a busy
/// 2-core machine gets ample room.
const ISSUE_WITHIN: Duration = Duration::from_secs(60);

/// A child process, killed when the test ends however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn wait_listening(port: u16, what: &str) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} listens"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// pebble-challtestsrv as a DNS server only: every name is 127.0.0.1, no AAAA.
fn start_dns(dns: u16, management: u16) -> Killed {
    let child = Command::new("pebble-challtestsrv")
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-dns01", &format!("127.0.0.1:{dns}")])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .args(["-management", &format!("127.0.0.1:{management}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv starts");
    Killed(child)
}

/// pebble on loopback with its HTTPS certificate from `ca`; it validates TLS-ALPN-01 on
/// `tls_port`, where Aula listens.
fn start_pebble(dir: &Path, ca: &TestCa, ports: [u16; 4]) -> Killed {
    let [acme, management, tls_port, dns] = ports;
    let (cert, key) = ca.leaf(&["localhost"]);
    std::fs::write(dir.join("pebble-cert.pem"), cert).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), key).unwrap();
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.join("pebble-cert.pem"),
        "privateKey": dir.join("pebble-key.pem"),
        "httpPort": free_port(),
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let child = Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
        // Validate at once, and never refuse a good nonce (pebble refuses 5 % by default to
        // test clients' retries; that is pebble's test, not ours).
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble starts");
    Killed(child)
}

/// The first successful HTTPS response from Aula under `DOMAIN`, trusting pebble's root.
async fn first_https(tls: &TlsConnector, addr: SocketAddr) -> common::tls::Response {
    let started = Instant::now();
    let host = format!("{DOMAIN}:{}", addr.port());
    loop {
        // Until the certificate is there, Aula has none to show and the handshake fails.
        if let Ok(response) = try_get(tls, addr, &host, "/").await {
            return response;
        }
        assert!(
            started.elapsed() < ISSUE_WITHIN,
            "no certificate from pebble within {ISSUE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_is_served_and_found_in_the_cache_after_a_restart() {
    if !installed("pebble") || !installed("pebble-challtestsrv") {
        assert!(
            std::env::var_os("AULA_REQUIRE_PEBBLE").is_none(),
            "pebble is required here: apt-get install pebble"
        );
        println!("skipped: pebble is not installed (apt-get install pebble)");
        return;
    }
    let dir = common::temp_dir("https-acme");
    let ca = TestCa::new();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let [acme, management, https, dns, dns_management] = [(); 5].map(|_| free_port());
    let _dns = start_dns(dns, dns_management);
    let _pebble = start_pebble(&dir, &ca, [acme, management, https, dns]);
    wait_listening(acme, "pebble").await;
    wait_listening(dns_management, "pebble-challtestsrv").await;

    let mut config = aula_signaling::Config::for_tests();
    config.https_addr = SocketAddr::from(([127, 0, 0, 1], https));
    config.domain = vec![DOMAIN.into()];
    config.acme_directory = format!("https://localhost:{acme}/dir");
    config.acme_ca_file = Some(dir.join("ca.pem"));
    config.acme_cache_dir = Some(dir.join("acme"));
    config.acme_email = Some("admin@aula.test".into());
    let (server, _) = common::client::server_with(config.clone()).await;
    let addr = server.https_addr.expect("an HTTPS listener");

    // Pebble makes a new root at every start; its management interface hands it out.
    let pebble_tls = connector(&ca.pem());
    let management = SocketAddr::from(([127, 0, 0, 1], management));
    let root = get(&pebble_tls, management, "localhost", "/roots/0").await;
    assert_eq!(root.status, 200);
    let tls = connector(&String::from_utf8(root.body).unwrap());

    let started = Instant::now();
    let page = first_https(&tls, addr).await;
    println!(
        "certificate issued and served after {:?}",
        started.elapsed()
    );
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let issued = page.peer_cert.expect("a certificate");

    server.shutdown().await;
    let cached = std::fs::read_dir(dir.join("acme")).unwrap().count();
    assert!(
        cached >= 2,
        "account key and certificate cached: {cached} files"
    );

    // A restart deploys the cached certificate: the same one, not a new order's.
    let (server, _) = common::client::server_with(config).await;
    let page = first_https(&tls, server.https_addr.unwrap()).await;
    assert_eq!(page.peer_cert.as_ref(), Some(&issued), "from the cache");
    server.shutdown().await;
}
