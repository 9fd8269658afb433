//! The real binary at `RUST_LOG=trace`, its output captured as a log file would be: a lesson's
//! secrets (the teacher's password and staff session, link secrets and their renewals, the
//! creator key, session and resume tokens, ICE passwords on both sides, the TURN secret and
//! credentials), its chat and its pupils' names never appear in it, and it has no terminal
//! colour codes. With `log_format = "json"` every line is one JSON object, and the `log`
//! setting wins over `RUST_LOG`.

use crate::common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aula_signaling::staff::accounts::Accounts;
use common::client::{Client, Room, create};
use common::proxy::Daemon;
use common::staff::call;
use common::{TempDir, temp_dir};
use serde_json::json;

/// The real binary with `args` and `env`, its output going to a file as a log would. It
/// listens on ports the kernel picks (`:0`) and says where on its first line: a port picked
/// free beforehand could be taken by the time it binds (a CI run: "Address already in use",
/// another test's connection had it).
/// The process is killed, and its log removed, however the test ends.
async fn start_aula(args: &[&str], env: &[(&str, &str)]) -> (TempDir, Daemon, SocketAddr) {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = temp_dir(&format!("log-{n}"));
    let path = dir.join("aula.log");
    let file = std::fs::File::create(&path).expect("a log file");
    let server = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["--http-addr", "127.0.0.1:0", "--media-port", "0"])
        .args(["--media-ips", "127.0.0.1"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::from(file.try_clone().expect("the file")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("aula starts");
    let mut server = Daemon(server);
    let started = Instant::now();
    let addr = loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let line = log
            .lines()
            .find_map(|l| l.strip_prefix("Aula is running: http://"));
        if let Some(addr) = line {
            break addr.trim().parse::<SocketAddr>().expect("its address");
        }
        let exited = server.0.try_wait().expect("wait");
        assert!(exited.is_none(), "aula exited ({exited:?}):\n{log}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "aula listens:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (dir, server, addr)
}

/// A real Chromium publish offer (sfu/tests/fixtures) and its ICE password.
fn chromium_offer() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sfu/tests/fixtures/chromium-156-publish.sdp"
    );
    let sdp = std::fs::read_to_string(path).expect("the fixture");
    assert_eq!(ice_pwd(&sdp), CHROMIUM_ICE_PWD);
    sdp
}

const CHROMIUM_ICE_PWD: &str = "TcMqDy2Zs4dG3PskB7BOLqp9";

fn ice_pwd(sdp: &str) -> String {
    let line = sdp.lines().find_map(|l| l.strip_prefix("a=ice-pwd:"));
    line.expect("an ice-pwd line").trim().to_string()
}

/// SIGTERM (a clean shutdown flushes the log), then the log.
fn stop_and_read(server: &mut Daemon, dir: &Path) -> String {
    let _ = Command::new("kill").arg(server.0.id().to_string()).status();
    let done = Instant::now();
    while server.0.try_wait().expect("wait").is_none() {
        assert!(done.elapsed() < Duration::from_secs(10), "aula stops");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut log = String::new();
    std::fs::File::open(dir.join("aula.log"))
        .and_then(|mut f| f.read_to_string(&mut log))
        .expect("the log");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_holds_no_secrets_no_chat_no_names_and_no_colour_codes() {
    let dir = temp_dir("log-hygiene");
    let accounts = dir.join("accounts");
    let mut staff = Accounts::read(&accounts).unwrap();
    staff.add("weber", "Pferd-Batterie-Klammer").unwrap();
    staff.write(&accounts).unwrap();
    let turn_secret = "coturn-static-auth-secret-4711";
    let args = [
        "--room-creation",
        "staff",
        "--accounts-file",
        accounts.to_str().unwrap(),
        "--turn-urls",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        turn_secret,
    ];
    let (logs, mut server, addr) = start_aula(&args, &[("RUST_LOG", "trace")]).await;
    let sign_in = json!({"name": "weber", "password": "Pferd-Batterie-Klammer"});
    let cookie = call(addr, "POST", "/api/staff/sign-in", "", sign_in)
        .await
        .cookie();
    let class = json!({"kind": "class", "lobby": false});
    let created = call(addr, "POST", "/api/rooms", &cookie, class).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let room = Room::from_created(&created.body);
    let (mut host, joined) =
        Client::join_as_creator(addr, &room, &room.creator_key, "Frau Weber").await;
    assert_eq!(joined["lead"], true, "{joined}");
    let session = joined["session"].as_str().unwrap_or_default().to_string();
    let resume = joined["resume"].as_str().unwrap_or_default().to_string();
    let turn_credential = joined["ice_servers"][0]["credential"]
        .as_str()
        .expect("TURN credentials in joined")
        .to_string();
    // Media: the browser's offer (its ICE password) and the server's answer (its own).
    host.send(
        json!({"type": "publish", "sdp": chromium_offer(), "tracks": [
        {"mid": "0", "source": "microphone"}, {"mid": "1", "source": "camera"}]}),
    )
    .await;
    let answer = host.expect("publish_answer").await;
    let server_ice_pwd = ice_pwd(answer["sdp"].as_str().expect("an answer"));
    let (mut anna, _) = Client::join(
        addr,
        &room.id,
        &room.participant_secret,
        "Annabella Zwirbel",
    )
    .await;
    let offer = anna.expect("subscribe_offer").await;
    let subscribe_ice_pwd = ice_pwd(offer["sdp"].as_str().expect("an offer"));
    anna.roundtrip(json!({"type": "chat", "text": "Meine Adresse ist Lindenweg 7"}))
        .await;
    anna.roundtrip(json!({"type": "raise_hand"})).await;
    let renewed = host.roundtrip(json!({"type": "renew_link"})).await;
    let renewed = (renewed.iter())
        .find(|m| m["type"] == "link_renewed")
        .and_then(|m| m["participant_secret"].as_str())
        .expect("the renewed link")
        .to_string();
    let host_link = host.roundtrip(json!({"type": "renew_host_link"})).await;
    let host_link = (host_link.iter())
        .find(|m| m["type"] == "host_link_renewed")
        .and_then(|m| m["host_secret"].as_str())
        .expect("the renewed host link")
        .to_string();
    // The teacher's socket drops and her page resumes on a new one.
    drop(host);
    let mut host = Client::connect(addr).await;
    let hello = json!({"type": "resume", "v": 1, "room": room.id, "token": resume, "fresh": false});
    host.send(hello).await;
    let resumed = host.expect("joined").await;
    assert_eq!(resumed["resumed"], true, "{resumed}");
    let resumed_token = resumed["resume"].as_str().unwrap_or_default().to_string();
    anna.send(json!({"type": "leave"})).await;
    host.sync().await;

    let log = stop_and_read(&mut server, &logs);
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
        ("the renewed host link's secret", host_link.as_str()),
        ("the creator key", room.creator_key.as_str()),
        ("the browser's ICE password", CHROMIUM_ICE_PWD),
        ("the server's ICE password", server_ice_pwd.as_str()),
        ("a subscriber's ICE password", subscribe_ice_pwd.as_str()),
        ("the TURN secret", turn_secret),
        ("the TURN credential", turn_credential.as_str()),
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
    if !resumed_token.is_empty() {
        secrets.push(("the resume token after a resume", resumed_token.as_str()));
    }
    for (what, secret) in secrets {
        // Where, without repeating it: the start of each line that has it.
        let lines: Vec<String> = (log.lines())
            .filter(|l| l.contains(secret))
            .map(|l| l.replace(secret, "<secret>").chars().take(160).collect())
            .collect();
        assert!(lines.is_empty(), "{what} is in the log: {lines:#?}");
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
    let (logs, mut server, addr) = start_aula(&args, &[("RUST_LOG", "trace")]).await;
    let room = create(addr, json!({"kind": "class", "lobby": false})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    host.send(json!({"type": "leave"})).await;
    host.expect_closed().await;
    let log = stop_and_read(&mut server, &logs);
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
