//! docs/operations.md's nginx example, as an admin would paste it, in front of the real
//! server: the example is read from the document itself (so the test fails when the document
//! goes wrong), only its ports, certificate paths and Aula's address changed. Through it:
//! plain HTTP is redirected with 308, pages come with HSTS, a room's links name the address
//! the browser used (a port other than 443 included), a class joins over wss, and `/metrics`
//! is not exposed. Needs Debian's nginx; without it the test says it is skipped and passes,
//! unless `AULA_REQUIRE_NGINX=1` (run-tests.sh sets it).

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use common::client::server_with;
use common::free_port;
use common::proxy::{Daemon, a_class_gets_through, documented_block, wait_listening};
use common::tls::{TestCa, get_plain};

/// The example on this machine's test ports, certificate and Aula.
fn adapted(example: &str, http: u16, https: u16, aula: SocketAddr, dir: &Path) -> String {
    let replaced = example
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{https} ssl;"))
        .replace(
            "/etc/letsencrypt/live/aula.schule.de/fullchain.pem",
            &dir.join("cert.pem").display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/aula.schule.de/privkey.pem",
            &dir.join("key.pem").display().to_string(),
        )
        .replace("127.0.0.1:8080", &aula.to_string());
    assert_ne!(
        replaced, example,
        "the example changed shape: adapt this test"
    );
    let d = dir.display();
    format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         {replaced}\n}}\n"
    )
}

fn nginx_binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_nginx_example_carries_a_class() {
    let Some(nginx) = nginx_binary() else {
        assert!(
            std::env::var_os("AULA_REQUIRE_NGINX").is_none(),
            "nginx is required here: apt-get install nginx-light"
        );
        println!("skipped: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    let dir = common::temp_dir("nginx");
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(&["aula.schule.de"]);
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();

    // As operations.md says for a proxy: Aula on loopback, its public address set.
    let (http, https) = (free_port(), free_port());
    let host = format!("aula.schule.de:{https}");
    let config = aula_signaling::Config {
        public_url: None,
        allowed_hosts: vec!["aula.schule.de".into()],
        ..aula_signaling::Config::for_tests()
    };
    let (_server, aula) = server_with(config).await;
    let conf = dir.join("nginx.conf");
    let example = documented_block("### nginx", "nginx");
    std::fs::write(&conf, adapted(&example, http, https, aula, &dir)).unwrap();
    let checked = Command::new(nginx)
        .args(["-t", "-q", "-c", conf.to_str().unwrap(), "-e", "stderr"])
        .output()
        .expect("nginx -t runs");
    assert!(
        checked.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let child = Command::new(nginx)
        .args(["-c", conf.to_str().unwrap(), "-e", "stderr"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let _nginx = Daemon(child);
    let proxy: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    wait_listening(proxy).await;

    let plain: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let redirect = get_plain(plain, "aula.schule.de", "/room/abc?x=1").await;
    assert_eq!(redirect.status, 308);
    assert_eq!(
        redirect.header("location"),
        Some("https://aula.schule.de/room/abc?x=1")
    );

    // The links name what the browser used, port and all ($http_host, not $host).
    a_class_gets_through(&ca, proxy, &host).await;
}
