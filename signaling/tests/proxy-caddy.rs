//! docs/operations.md's Caddy example in front of the real server, read from the document
//! itself: only the certificate (Caddy would get one from Let's Encrypt; here a test CA's),
//! the ports and Aula's address are this machine's. Through it: plain HTTP is redirected to
//! HTTPS, pages come with HSTS, a room's links name the address the browser used, a class
//! joins over wss, and `/metrics` is not exposed. Needs Debian's caddy; without it the test
//! says it is skipped and passes, unless `AULA_REQUIRE_CADDY=1` (run-tests.sh sets it).

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use common::client::server_with;
use common::free_port;
use common::proxy::{Daemon, a_class_gets_through, documented_block, wait_listening};
use common::tls::{TestCa, get_plain};

/// The example with a global block for this machine (ports, no admin API, storage in `dir`)
/// and the test certificate; the site block itself as documented.
fn adapted(example: &str, http: u16, https: u16, aula: SocketAddr, dir: &Path) -> String {
    let site = example
        .replace("127.0.0.1:8080", &aula.to_string())
        .replace(
            "aula.schule.de {",
            &format!(
                "aula.schule.de {{\n    tls {} {}",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            ),
        );
    assert_ne!(site, example, "the example changed shape: adapt this test");
    format!(
        "{{\n    admin off\n    http_port {http}\n    https_port {https}\n    \
         storage file_system {}\n}}\n{site}",
        dir.join("data").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_caddy_example_carries_a_class() {
    if !Path::new("/usr/bin/caddy").exists() {
        assert!(
            std::env::var_os("AULA_REQUIRE_CADDY").is_none(),
            "caddy is required here: apt-get install caddy"
        );
        println!("skipped: caddy is not installed (apt-get install caddy)");
        return;
    }
    let dir = common::temp_dir("caddy");
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(&["aula.schule.de"]);
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();

    let (http, https) = (free_port(), free_port());
    let host = format!("aula.schule.de:{https}");
    let config = aula_signaling::Config {
        allowed_hosts: vec!["aula.schule.de".into()],
        ..aula_signaling::Config::for_tests()
    };
    let (_server, aula) = server_with(config).await;
    let caddyfile = dir.join("Caddyfile");
    let example = documented_block("### Caddy", "caddyfile");
    std::fs::write(&caddyfile, adapted(&example, http, https, aula, &dir)).unwrap();
    let child = Command::new("/usr/bin/caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&caddyfile)
        .env("HOME", &*dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("caddy starts");
    let _caddy = Daemon(child);
    let proxy: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    wait_listening(proxy).await;
    wait_listening(format!("127.0.0.1:{http}").parse().unwrap()).await;

    let plain: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let redirect = get_plain(plain, "aula.schule.de", "/room/abc?x=1").await;
    assert_eq!(redirect.status, 308);
    // To the standard port, as in production (Caddy's redirect names no other).
    assert_eq!(
        redirect.header("location"),
        Some("https://aula.schule.de/room/abc?x=1")
    );
    a_class_gets_through(&ca, proxy, &host).await;
}
