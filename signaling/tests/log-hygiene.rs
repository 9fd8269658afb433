//! The real binary at `RUST_LOG=trace`, its output captured as a log file would be: a lesson's
//! secrets (the teacher's password and staff session, link secrets, session and resume
//! tokens), its chat and its pupils' names never appear in it, and it has no terminal colour codes. With `log_format = "json"` every line is
//! one JSON object, and the `log` setting wins over `RUST_LOG`.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aula_signaling::staff::accounts::Accounts;
use common::client::{Client, Room, create};
use common::staff::{call, temp_dir};
use serde_json::json;

fn free_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    let port = socket.local_addr().expect("addr").port();
    // The same number for TCP: a fresh ephemeral port is almost never taken on both.
    drop(socket);
    port
}

/// The real binary with `args` and `env`, its output going to a file as a log would.
async fn start_aula(args: &[&str], env: &[(&str, &str)]) -> (Child, SocketAddr, PathBuf) {
    let (http, media) = (free_port(), free_port());
    let path = std::env::temp_dir().join(format!("aula-log-{}-{http}.log", std::process::id()));
    let file = std::fs::File::create(&path).expect("a log file");
    let server = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .args([
            "--media-port",
            &media.to_string(),
            "--media-ips",
            "127.0.0.1",
        ])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::from(file.try_clone().expect("the file")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("aula starts");
    let addr: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "aula listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, addr, path)
}

/// SIGTERM (a clean shutdown flushes the log), then the log.
fn stop_and_read(mut server: Child, path: PathBuf) -> String {
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let done = Instant::now();
    while server.try_wait().expect("wait").is_none() {
        assert!(done.elapsed() < Duration::from_secs(10), "aula stops");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut log = String::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_string(&mut log))
        .expect("the log");
    let _ = std::fs::remove_file(&path);
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_holds_no_secrets_no_chat_no_names_and_no_colour_codes() {
    let accounts = temp_dir("log-hygiene").join("accounts");
    let mut staff = Accounts::read(&accounts).unwrap();
    staff.add("weber", "Pferd-Batterie-Klammer").unwrap();
    staff.write(&accounts).unwrap();
    let args = [
        "--room-creation",
        "staff",
        "--accounts-file",
        accounts.to_str().unwrap(),
    ];
    let (server, addr, path) = start_aula(&args, &[("RUST_LOG", "trace")]).await;
    let sign_in = json!({"name": "weber", "password": "Pferd-Batterie-Klammer"});
    let cookie = call(addr, "POST", "/api/staff/sign-in", "", sign_in)
        .await
        .cookie();
    let class = json!({"kind": "class", "lobby": false});
    let created = call(addr, "POST", "/api/rooms", &cookie, class).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let room = Room::from_created(&created.body);
    let (mut host, joined) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let session = joined["session"].as_str().unwrap_or_default().to_string();
    let resume = joined["resume"].as_str().unwrap_or_default().to_string();
    let (mut anna, _) = Client::join(
        addr,
        &room.id,
        &room.participant_secret,
        "Annabella Zwirbel",
    )
    .await;
    anna.roundtrip(json!({"type": "chat", "text": "Meine Adresse ist Lindenweg 7"}))
        .await;
    anna.roundtrip(json!({"type": "raise_hand"})).await;
    let renewed = host.roundtrip(json!({"type": "renew_link"})).await;
    let renewed = (renewed.iter())
        .find(|m| m["type"] == "link_renewed")
        .and_then(|m| m["participant_secret"].as_str())
        .expect("the renewed link")
        .to_string();
    anna.send(json!({"type": "leave"})).await;
    host.sync().await;

    let log = stop_and_read(server, path);
    assert!(log.contains(&room.id), "the log shows the room: {log}");
    println!("{} lines of log", log.lines().count());
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace was on: {log}"
    );
    let mut secrets = vec![
        ("the host link's secret", room.host_secret.as_str()),
        (
            "the participant link's secret",
            room.participant_secret.as_str(),
        ),
        ("the renewed link's secret", renewed.as_str()),
        ("a name", "Annabella"),
        ("the teacher's name", "Frau Weber"),
        ("the chat", "Lindenweg"),
        ("the teacher's password", "Pferd-Batterie-Klammer"),
        (
            "the staff session",
            cookie.trim_start_matches("aula_staff="),
        ),
    ];
    if !session.is_empty() {
        secrets.push(("the session token", session.as_str()));
    }
    if !resume.is_empty() {
        secrets.push(("the resume token", resume.as_str()));
    }
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "{what} is in the log");
    }
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is not a terminal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_json_writes_one_object_per_line_and_the_log_setting_beats_rust_log() {
    let args = [
        "--log-format",
        "json",
        "--log",
        "info",
        "--room-creation",
        "open",
    ];
    let (server, addr, path) = start_aula(&args, &[("RUST_LOG", "trace")]).await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    host.send(json!({"type": "leave"})).await;
    host.expect_closed().await;
    let log = stop_and_read(server, path);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.starts_with("Aula is running"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "room created"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| ["INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap())),
        "--log info, not RUST_LOG=trace: {log}"
    );
    assert!(!log.contains("Frau Weber") && !log.contains(&room.host_secret));
}
