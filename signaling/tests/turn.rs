//! TURN for networks that block UDP: the credentials `joined` hands out are accepted by a real
//! coturn run as docs/operations.md says (`use-auth-secret`), which relays with them; expired
//! ones are refused. Needs coturn's `turnserver` and `turnutils_uclient` (Debian's `coturn`,
//! which run-tests.sh installs); without them the test says it is skipped and passes, unless
//! `AULA_REQUIRE_COTURN=1` (run-tests.sh sets it).

use crate::common;
use common::free_port;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::client::{Client, create, server_with};
use serde_json::json;

const SECRET: &str = "a-long-random-string-shared-with-coturn";

struct Coturn(Child);

impl Drop for Coturn {
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

async fn start_coturn(port: u16) -> Coturn {
    let child = Command::new("turnserver")
        .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log"])
        .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
        .arg(format!("--listening-port={port}"))
        .arg("--use-auth-secret")
        .arg(format!("--static-auth-secret={SECRET}"))
        .args([
            "--realm=aula.test",
            "--allow-loopback-peers",
            "--log-file=stdout",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnserver starts");
    let coturn = Coturn(child);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "coturn listens"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    coturn
}

/// Two TURN clients allocate relays with these credentials and send each other 5 messages
/// through them.
fn relay(port: u16, username: &str, credential: &str) -> Output {
    Command::new("timeout")
        .args(["20", "turnutils_uclient", "-y", "-n", "5"])
        .args(["-u", username, "-w", credential, "-p", &port.to_string()])
        .arg("127.0.0.1")
        .output()
        .expect("turnutils_uclient runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coturn_relays_with_the_credentials_in_joined_and_refuses_expired_ones() {
    if !installed("turnserver") || !installed("turnutils_uclient") {
        assert!(
            std::env::var_os("AULA_REQUIRE_COTURN").is_none(),
            "coturn is required here: apt-get install coturn"
        );
        println!("skipped: coturn is not installed (apt-get install coturn)");
        return;
    }
    let port = free_port();
    let _coturn = start_coturn(port).await;
    let mut config = aula_signaling::Config::for_tests();
    config.turn_urls = vec![format!("turn:127.0.0.1:{port}")];
    config.turn_secret = Some(SECRET.into());
    let (_server, addr) = server_with(config).await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (_anna, joined) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;

    let servers = joined["ice_servers"].as_array().expect("ice_servers");
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(
        servers[0]["urls"],
        json!([format!("turn:127.0.0.1:{port}")])
    );
    let username = servers[0]["username"].as_str().expect("a username");
    let credential = servers[0]["credential"].as_str().expect("a credential");
    let expiry: u64 = username.split(':').next().unwrap().parse().expect("expiry");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expiry > now + 3600, "good for hours: {username}");

    let out = relay(port, username, credential);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "coturn relays with Aula's credentials: {text}"
    );
    assert!(text.contains("Total lost packets 0"), "{text}");

    // The same secret, a day ago: coturn refuses what has expired.
    let turn = aula_signaling::turn::Turn::new(
        &[format!("turn:127.0.0.1:{port}")],
        Some(SECRET),
        Duration::from_secs(3600),
    )
    .expect("configured");
    let old = turn.credentials(SystemTime::now() - Duration::from_secs(86_400));
    let out = relay(port, &old.username, &old.credential);
    assert!(!out.status.success(), "an expired credential is refused");
    // And a credential not made with the secret.
    let out = relay(port, username, "not-the-hmac");
    assert!(!out.status.success(), "a wrong credential is refused");

    // Without TURN configured, joined says nothing about it.
    let (_server, addr) = server_with(aula_signaling::Config::for_tests()).await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (_ben, joined) = Client::join(addr, &room.id, &room.participant_secret, "Ben").await;
    assert!(joined.get("ice_servers").is_none(), "{joined}");
}
