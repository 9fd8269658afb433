//! A certificate that cannot be obtained does not stop the server: the real binary with
//! `--domain` and an ACME server that is not there keeps running, says why in its log at
//! `warn` and tries again (rustls-acme's backoff: 1 s, then 2 s…), while plain HTTP still
//! answers `/healthz` and redirects the rest to HTTPS.

use crate::common;
use common::free_port;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tls::get_plain;

const WARNING: &str = "https: no certificate from the ACME server yet, retrying";

struct Aula(Child);

impl Drop for Aula {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_acme_server_is_logged_and_retried_while_http_keeps_answering() {
    let dir = common::temp_dir("acme-unreachable");
    let log_path = dir.join("aula.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let [http, https, nobody] = [(); 3].map(|_| free_port());
    let aula = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["--domain", "aula.test"])
        .args([
            "--acme-directory",
            &format!("https://127.0.0.1:{nobody}/dir"),
        ])
        .arg("--acme-cache-dir")
        .arg(dir.join("acme"))
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .args(["--https-addr", &format!("127.0.0.1:{https}")])
        .args(["--media-port", "0", "--media-ips", "127.0.0.1"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("aula starts");
    let mut aula = Aula(aula);

    // Two failed attempts: the first at once, the retry a second later.
    let started = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.matches(WARNING).count() >= 2 {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no second warning in 30 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("two failed attempts logged after {:?}", started.elapsed());
    let running = format!("Aula is running: https://aula.test:{https}");
    assert!(text.contains(&running), "{text}");
    let warning = text.lines().find(|l| l.contains(WARNING)).unwrap();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("error="), "with the reason: {warning}");
    assert!(aula.0.try_wait().unwrap().is_none(), "still running");

    let addr = SocketAddr::from(([127, 0, 0, 1], http));
    let health = get_plain(addr, "aula.test", "/healthz").await;
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    let page = get_plain(addr, "aula.test", "/").await;
    assert_eq!(page.status, 308);
}
