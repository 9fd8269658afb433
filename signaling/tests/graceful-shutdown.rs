//! The `aula` binary stops cleanly on SIGTERM and SIGINT: open WebSockets are closed with 1001
//! ("going away"), and the process exits with success within a few seconds.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Starts the real binary on free ports and returns it with its HTTP address.
fn start_aula() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["--http-addr", "127.0.0.1:0", "--media-port", "0"])
        .args(["--media-ips", "127.0.0.1", "--log", "warn"])
        // Staff by default, which prints the first-account link after the address line: the
        // test reads one line and closes the pipe, which must not matter.
        .args(["--room-creation", "open"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("aula starts");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("aula prints its address");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("an address")
        .to_string();
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("aula did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn sigterm_closes_sockets_and_exits_cleanly() {
    let (mut child, addr) = start_aula();
    let room = aula_loadtest::http::create_room(
        &aula_loadtest::http::ServerUrl::parse(&format!("http://{addr}")).unwrap(),
        &aula_loadtest::http::RoomOptions::no_lobby(aula_loadtest::http::RoomKind::Class),
        Duration::from_secs(5),
    )
    .await
    .expect("room created");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let join = serde_json::json!({"type": "join", "v": 1, "room": room.id,
        "secret": room.participant_secret().unwrap(), "name": "Anna"});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let joined = loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => break t,
            _ => continue, // a ping
        }
    };
    assert!(joined.contains("\"joined\""), "{joined}");

    signal(&child, "TERM");
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status}");
}

#[test]
fn sigint_exits_cleanly() {
    let (mut child, _addr) = start_aula();
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status}");
}
