//! The join queue over real WebSockets: a full server queues joins instead of refusing them,
//! tells each page where it stands, lets it in without a word from the page when a seat
//! frees, puts hosts first, and bounds what one address or a flood can hold.

use crate::common;

use std::time::Duration;

use common::client::{self, Client};
use serde_json::{Value, json};

fn config(max: usize) -> aula_signaling::Config {
    aula_signaling::Config {
        max_participants: max,
        ..aula_signaling::Config::for_tests()
    }
}

async fn meeting(addr: std::net::SocketAddr) -> client::Room {
    client::create(addr, json!({"kind": "meeting"})).await
}

/// Connects and sends `join`; returns the client and the first answer.
async fn join(
    addr: std::net::SocketAddr,
    room: &client::Room,
    host: bool,
    name: &str,
    session: Option<&str>,
) -> (Client, Value) {
    let secret = if host {
        &room.host_secret
    } else {
        &room.participant_secret
    };
    Client::join_session(addr, &room.id, secret, name, session).await
}

/// The next `queued` whose position is `position`, skipping older news.
async fn until_position(c: &mut Client, position: u64) -> Value {
    loop {
        let q = c.expect("queued").await;
        if q["position"] == position {
            return q;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_queues_joins_and_lets_them_in_by_themselves_hosts_first() {
    let (_server, addr) = client::server_with(config(3)).await;
    let room = meeting(addr).await;
    let (mut host, first) = join(addr, &room, true, "Frau Berg", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let (mut a, first) = join(addr, &room, false, "Anna", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let (_b, first) = join(addr, &room, false, "Ben", None).await;
    assert_eq!(first["type"], "joined", "{first}");

    // Full: the next two wait, in the order they came.
    let (mut c, first) = join(addr, &room, false, "Cem", None).await;
    assert_eq!(first["type"], "queued", "{first}");
    assert_eq!(
        (first["position"].clone(), first["waiting"].clone()),
        (json!(1), json!(1))
    );
    let (mut d, first) = join(addr, &room, false, "Dana", None).await;
    assert_eq!(
        (first["type"].clone(), first["position"].clone()),
        (json!("queued"), json!(2))
    );

    // A waiting page may only ping or leave.
    c.send(json!({"type": "chat", "text": "hello?"})).await;
    c.expect_error("not_joined").await;
    c.send(json!({"type": "ping"})).await;
    c.expect("pong").await;

    // A second teacher goes ahead of both; the news reaches everyone within 2 s.
    let (mut co, first) = join(addr, &room, true, "Herr Kaya", None).await;
    assert_eq!(
        (first["type"].clone(), first["position"].clone()),
        (json!("queued"), json!(1))
    );
    until_position(&mut c, 2).await;
    until_position(&mut d, 3).await;
    // The teacher in the room sees how many wait to come in.
    loop {
        let q = host.expect("queue").await;
        if q["waiting"] == 3 {
            break;
        }
    }

    // Anna leaves: the co-teacher comes in without sending anything more.
    a.send(json!({"type": "leave"})).await;
    let joined = co.expect("joined").await;
    assert_eq!(joined["you"]["role"], "host", "{joined}");
    // Cem is next now; Dana gives up her place by closing the page.
    until_position(&mut c, 1).await;
    drop(d);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::metric(addr, "aula_admission_queue_length").await, 1);
    assert_eq!(
        common::metric(addr, "aula_admission_left_queue_total").await,
        1
    );
    host.send(json!({"type": "leave"})).await;
    let joined = c.expect("joined").await;
    assert_eq!(joined["you"]["name"], "Cem");
    assert_eq!(common::metric(addr, "aula_participants_present").await, 3);
    assert_eq!(
        common::metric(addr, "aula_admitted_total{class=\"host\",how=\"queued\"}").await,
        1
    );
    assert_eq!(
        common::metric(addr, "aula_admitted_total{class=\"new\",how=\"queued\"}").await,
        1
    );
}

/// Resumes go ahead of new joins in the queue. Made-up tokens, sent as fast as a socket may
/// (a script with the class link), are turned away before they take a place there: the
/// pupil who waits stays first, and comes in when a seat frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_with_made_up_tokens_take_no_place_in_the_queue() {
    let (_server, addr) = client::server_with(config(2)).await;
    let room = meeting(addr).await;
    let (mut host, first) = join(addr, &room, true, "Frau Berg", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let (_a, first) = join(addr, &room, false, "Anna", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let (mut c, first) = join(addr, &room, false, "Cem", None).await;
    assert_eq!(
        (first["type"].clone(), first["position"].clone()),
        (json!("queued"), json!(1))
    );

    let mut script = Client::connect(addr).await;
    for i in 0..30 {
        let token = format!("made-up-{i:04}");
        let resume =
            json!({"type": "resume", "v": 1, "room": room.id, "token": token, "fresh": false});
        script.send(resume).await;
        script.expect_error("resume_failed").await;
    }
    assert_eq!(common::metric(addr, "aula_admission_queue_length").await, 1);
    host.send(json!({"type": "leave"})).await;
    let joined = c.expect("joined").await;
    assert_eq!(joined["you"]["name"], "Cem");
    assert!(common::metric(addr, "aula_resumes_failed_total").await >= 30);
}

/// A server full with two (a teacher and Anna) and Cem queued behind them.
struct Full {
    host: Client,
    anna: Client,
    /// The `resume` Anna's page would send.
    resume: Value,
    cem: Client,
}

async fn full_of_two(addr: std::net::SocketAddr) -> Full {
    let room = meeting(addr).await;
    let (host, first) = join(addr, &room, true, "Frau Berg", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let (anna, first) = join(addr, &room, false, "Anna", None).await;
    assert_eq!(first["type"], "joined", "{first}");
    let token = first["resume"].as_str().expect("a resume token");
    let resume = json!({"type": "resume", "v": 1, "room": room.id, "token": token, "fresh": false});
    let (cem, first) = join(addr, &room, false, "Cem", None).await;
    assert_eq!(first["type"], "queued", "{first}");
    Full {
        host,
        anna,
        resume,
        cem,
    }
}

/// A member whose socket drops keeps its seat on the server for its resume: on a full server
/// a reload or a Wi-Fi gap does not put the pupil behind the morning's new joins. The seat is
/// freed when the member goes for good (here: its grace of 3 s passes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_away_keeps_its_seat_and_resumes_without_queueing() {
    let (_server, addr) = client::server_with(config(2)).await;
    let Full {
        mut host,
        anna,
        resume,
        mut cem,
    } = full_of_two(addr).await;

    drop(anna); // her Wi-Fi drops
    let away = host.expect("participant_updated").await;
    assert_eq!(away["participant"]["reconnecting"], true, "{away}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(common::metric(addr, "aula_admission_queue_length").await, 1);
    assert_eq!(common::metric(addr, "aula_participants_present").await, 2);

    let mut anna = Client::connect(addr).await;
    anna.send(resume).await;
    let back = anna.next().await.expect("an answer");
    assert_eq!(
        (back["type"].clone(), back["resumed"].clone()),
        (json!("joined"), json!(true)),
        "{back}"
    );
    assert_eq!(common::metric(addr, "aula_participants_present").await, 2);

    // Gone for good this time: once her grace has passed, Cem takes her seat by himself.
    drop(anna);
    let joined = cem.expect("joined").await;
    assert_eq!(joined["you"]["name"], "Cem");
    assert_eq!(common::metric(addr, "aula_participants_present").await, 2);
}

/// A page whose Wi-Fi changed resumes before the server has noticed its old socket is dead:
/// on a full server the resume waits in the queue (ahead of new joins). When the old socket
/// ends, its seat goes to that resume at once, not to the queue's next newcomer and not
/// kept for a resume that then expires; nobody holds two seats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_queued_behind_its_own_open_socket_gets_that_sockets_seat() {
    let (_server, addr) = client::server_with(config(2)).await;
    let Full {
        anna: old,
        resume,
        mut cem,
        ..
    } = full_of_two(addr).await;

    let mut anna = Client::connect(addr).await;
    anna.send(resume).await;
    let queued = anna.next().await.expect("an answer");
    assert_eq!(
        (queued["type"].clone(), queued["position"].clone()),
        (json!("queued"), json!(1)),
        "{queued}"
    );

    drop(old); // the server notices the old socket is gone
    let back = anna.expect("joined").await;
    assert_eq!(back["resumed"], true, "{back}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::metric(addr, "aula_participants_present").await, 2);
    assert_eq!(
        common::metric(addr, "aula_admission_queue_length").await,
        1,
        "Cem still waits"
    );
    let news = cem.drain(Duration::from_millis(200)).await;
    assert!(client::of_type(&news, "joined").is_empty(), "{news:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queues_bound_a_page_is_told_when_to_try_again() {
    let config = aula_signaling::Config {
        queue_limit: 2,
        ..config(1)
    };
    let (_server, addr) = client::server_with(config).await;
    let room = meeting(addr).await;
    let (_host, first) = join(addr, &room, true, "Frau Berg", None).await;
    assert_eq!(first["type"], "joined");
    let mut waiting = Vec::new();
    for name in ["Anna", "Ben"] {
        let (c, first) = join(addr, &room, false, name, None).await;
        assert_eq!(first["type"], "queued", "{first}");
        waiting.push(c);
    }
    let (mut late, first) = join(addr, &room, false, "Cem", None).await;
    assert_eq!(first["type"], "error", "{first}");
    assert_eq!(first["code"], "server_busy", "{first}");
    assert!(first["retry_after_secs"].as_u64().unwrap() >= 1, "{first}");
    assert_eq!(first["re"], "join");
    late.expect_closed().await;
    assert_eq!(
        common::metric(addr, "aula_admission_refused_total{cause=\"queue_full\"}").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_a_bounded_number_of_places() {
    let config = aula_signaling::Config {
        queue_per_address: 2,
        ..config(1)
    };
    let (_server, addr) = client::server_with(config).await;
    let room = meeting(addr).await;
    let (_host, _) = join(addr, &room, true, "Frau Berg", None).await;
    let mut held = Vec::new();
    for i in 0..2 {
        let (c, first) = join(addr, &room, false, &format!("Bot {i}"), None).await;
        assert_eq!(first["type"], "queued");
        held.push(c);
    }
    let (_c, first) = join(addr, &room, false, "Bot 2", None).await;
    assert_eq!(first["code"], "server_busy", "{first}");
    assert_eq!(
        common::metric(addr, "aula_admission_refused_total{cause=\"address\"}").await,
        1
    );
    // A place given up is the address's again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_c, first) = join(addr, &room, false, "Bot 3", None).await;
    assert_eq!(first["type"], "queued", "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_reconnects_keeps_its_place_and_one_that_vanishes_loses_it() {
    let (_server, addr) = client::server_with(config(1)).await;
    let room = meeting(addr).await;
    let (mut host, _) = join(addr, &room, true, "Frau Berg", None).await;
    let (mut old, first) = join(addr, &room, false, "Anna", Some("s-anna")).await;
    assert_eq!(first["position"], 1);
    let (silent, first) = join(addr, &room, false, "Ben", None).await;
    assert_eq!(first["position"], 2);

    // Anna's page reconnects (a new socket, the same session): place 1 is hers again, and
    // the old socket is closed.
    let (mut anna, first) = join(addr, &room, false, "Anna", Some("s-anna")).await;
    assert_eq!(
        (first["position"].clone(), first["waiting"].clone()),
        (json!(1), json!(2))
    );
    old.expect_closed().await;
    assert_eq!(
        common::metric(addr, "aula_admission_replaced_total").await,
        1
    );

    // Ben's page stops answering (it never reads, so never answers a ping): within 6 s of
    // silence and a ping it loses its place.
    // Anna's page reads (and so answers pings) all along.
    let mut gone = false;
    for _ in 0..40 {
        let news = anna.drain(Duration::from_millis(250)).await;
        assert!(news.iter().all(|m| m["type"] == "queued"), "{news:?}");
        if common::metric(addr, "aula_admission_queue_length").await == 1 {
            gone = true;
            break;
        }
    }
    assert!(gone, "a vanished page still holds its place after 10 s");
    drop(silent);

    host.send(json!({"type": "leave"})).await;
    let joined = anna.expect("joined").await;
    assert_eq!(joined["you"]["name"], "Anna");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_turned_away_is_told_when_to_come_back() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = aula_signaling::Config {
        max_rooms: 1,
        ..aula_signaling::Config::for_tests()
    };
    let (_server, addr) = client::server_with(config).await;
    meeting(addr).await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    let retry = raw
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("a Retry-After header");
    assert!(retry.trim().parse::<u64>().unwrap() >= 1, "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_come_compressed_and_a_browser_that_has_them_gets_a_304() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_server, addr) = client::server().await;
    let get = |path: &'static str, extra: String| async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip, br\r\n{extra}\
             Connection: close\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await.unwrap();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
        (head, raw.len() - head_end - 4)
    };
    let (head, len) = get("/room/abc", String::new()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: br"), "{head}");
    assert!(head.contains("content-security-policy"), "{head}");
    assert!(len > 0);
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an ETag")
        .to_string();
    let (head, len) = get("/room/abc", format!("If-None-Match: {etag}\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 304"), "{head}");
    assert_eq!(len, 0);

    // Every response, not only the pages: scripts, errors, the API.
    for path in [
        "/room/abc",
        "/static/room.js",
        "/no/such/page",
        "/api/rooms/nothere",
    ] {
        let (head, _) = get(path, String::new()).await;
        for expected in [
            "content-security-policy: default-src 'self'",
            "frame-ancestors 'none'",
            "x-frame-options: DENY",
            "referrer-policy: no-referrer",
            "x-content-type-options: nosniff",
            "permissions-policy: camera=(self), microphone=(self)",
            "cross-origin-opener-policy: same-origin",
        ] {
            assert!(head.contains(expected), "{path}: no {expected:?} in {head}");
        }
    }
}
