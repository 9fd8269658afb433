//! Helpers shared by the tests that run the real server in-process and fill it with bots from
//! `aula-loadtest` (real WebSocket signaling, real WebRTC over UDP on loopback).

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

pub mod client;
pub mod proxy;
pub mod staff;
pub mod tls;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use aula_loadtest::http::{self, CreatedRoom, RoomKind, RoomOptions, ServerUrl};
use aula_loadtest::{BotConfig, BotHandle, BotStats};
use aula_signaling::{Config, RunningServer};

/// How long a test waits for something that takes well under a second on an idle machine:
/// ICE, DTLS and the first keyframe through a debug build on a busy 2-core CI box.
pub const WAIT: Duration = Duration::from_secs(30);
/// How often waiting loops look at the bots' stats.
const POLL: Duration = Duration::from_millis(100);

/// A directory of its own for one test (accounts files hold password hashes, TLS tests
/// private keys), removed with everything in it when the test ends, whether it passed or not.
/// Declared before the processes that use it, it outlives them.
pub struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("aula-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Logs to the test's output when `RUST_LOG` is set (e.g. `RUST_LOG=debug`); quiet otherwise.
/// Also makes a panic in a media worker end the test process: the server catches one in a
/// room's code and goes on (docs/architecture.md, "A fault in one room"), which must not hide
/// a bug from a test. The fault tests/media-fault.rs injects is let through.
pub fn init_logging() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            let media = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("aula-media"));
            let message = info.payload().downcast_ref::<String>();
            let injected = message.is_some_and(|m| m.starts_with("a fault injected"));
            if media && !injected {
                std::process::abort();
            }
        }));
    });
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A port on 127.0.0.1 free for TCP and UDP, for a process a test starts that cannot be told
/// `:0` and say where it listens (pebble, slapd, coturn, a proxy, Aula behind one). Taken below
/// the kernel's ephemeral range (`ip_local_port_range`), where the kernel hands out no port of
/// its own: one it picked for `:0` and a test let go can be given to another test's outgoing
/// connection before the process binds it (a CI run: "Address already in use"). Random, checked
/// free, and never handed out twice in one test process.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range");
    let ephemeral = range
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok());
    let below: u16 = ephemeral.unwrap_or(32768).max(11_000);
    let mut given = GIVEN.lock().expect("not poisoned");
    loop {
        let port = rand::random_range(10_000..below);
        let free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if free && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Starts a server on loopback with ephemeral ports.
pub async fn start() -> (RunningServer, ServerUrl) {
    init_logging();
    let server = aula_signaling::start(Config::for_tests())
        .await
        .expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    (server, url)
}

/// Creates a class through `POST /api/rooms`, without a lobby so that bots are admitted at once.
pub async fn create_room(url: &ServerUrl) -> CreatedRoom {
    let options = RoomOptions::no_lobby(RoomKind::Class).title("7b Mathe");
    http::create_room(url, &options, WAIT)
        .await
        .expect("room created")
}

/// A publishing bot (audio and video) that joins `room` with the host or the participant secret.
pub fn bot(url: &ServerUrl, room: &CreatedRoom, host: bool, name: &str) -> BotHandle {
    let secret = if host {
        room.host_secret()
    } else {
        room.participant_secret()
    };
    let secret = secret.expect("room links carry k=");
    let mut config = BotConfig::new(&url.ws_url(), &room.id, secret, name);
    config.seed = name.len() as u64;
    aula_loadtest::spawn(config)
}

/// A teacher bot (host) and `students` student bots (participants).
pub fn class(url: &ServerUrl, room: &CreatedRoom, students: usize) -> Vec<BotHandle> {
    let mut bots = vec![bot(url, room, true, "Frau Weber")];
    for i in 1..=students {
        bots.push(bot(url, room, false, &format!("Student {i}")));
    }
    bots
}

/// A class of a teacher and `students` students, joined, with media flowing between everyone;
/// the bots and their participant ids.
pub async fn class_in_media(
    url: &ServerUrl,
    room: &CreatedRoom,
    students: usize,
) -> (Vec<BotHandle>, Vec<String>) {
    let mut bots = class(url, room, students);
    let ids = joined_ids(&mut bots).await;
    wait_until(&mut bots, "media from every other bot", |s| {
        has_media_from_all(s, &ids)
    })
    .await;
    (bots, ids)
}

/// Waits until `done` holds for the stats of every bot and returns those stats. Panics after
/// [`WAIT`], or as soon as a bot has ended, with every bot's stats (and the ended bots' errors)
/// in the message, so a failure says what each bot did see.
pub async fn wait_until(
    bots: &mut Vec<BotHandle>,
    what: &str,
    done: impl Fn(&BotStats) -> bool,
) -> Vec<BotStats> {
    let start = Instant::now();
    loop {
        let mut all = Vec::with_capacity(bots.len());
        for bot in bots.iter() {
            match bot.stats().await {
                Some(stats) => all.push(stats),
                None => break,
            }
        }
        if all.len() == bots.len() && all.iter().all(&done) {
            return all;
        }
        if all.len() < bots.len() || start.elapsed() > WAIT {
            fail(bots, what, start.elapsed()).await;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Makes every bot leave and panics with their reports.
async fn fail(bots: &mut Vec<BotHandle>, what: &str, after: Duration) -> ! {
    let mut reports = String::new();
    for bot in bots.drain(..) {
        let report = bot.leave().await;
        reports.push_str(&format!(
            "\n{:#?}\nerror: {:?}\n",
            report.stats, report.error
        ));
    }
    panic!("gave up waiting for {what} after {after:?}; the bots saw:{reports}");
}

/// Waits until every bot has joined and returns their participant ids, in bot order.
pub async fn joined_ids(bots: &mut Vec<BotHandle>) -> Vec<String> {
    let stats = wait_until(bots, "every bot joined", |s| s.id.is_some()).await;
    stats.into_iter().filter_map(|s| s.id).collect()
}

/// Frames from `from` on both tracks, as one number that only grows.
pub fn frames_from(stats: &BotStats, from: &str) -> u64 {
    stats
        .remote(from)
        .map_or(0, |r| r.audio.frames + r.video.frames)
}

/// Whether `stats` shows audio and video from every id in `ids` except its own.
pub fn has_media_from_all(stats: &BotStats, ids: &[String]) -> bool {
    let me = stats.id.as_deref();
    ids.iter()
        .filter(|id| Some(id.as_str()) != me)
        .all(|id| stats.has_media_from(id))
}

/// A raw HTTP/1.1 request, to send bodies no well-behaved client would.
pub async fn raw_request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    http::parse_response(&raw).expect("an HTTP response")
}

/// One counter from /metrics.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = raw_request(addr, "GET", "/metrics", "").await;
    let text = String::from_utf8(body).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .expect(name);
    line.rsplit(' ').next().unwrap().parse().unwrap()
}
