//! Every session has one budget over all the messages it sends (docs/protocol.md, "Message
//! budget"): a page's join burst passes whole; a flood of any type is dropped beyond it with a
//! few `rate_limited`, reaches the others in the room as a trickle, is closed with 1008 when
//! it goes on, and the server's other rooms notice nothing.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::client::{ANSWER, Client, Room, create, of_type, server};
use serde_json::{Value, json};

/// Frames the flooder writes at most; the server closes it well before (after about 2,200).
const FLOOD: usize = 5000;

/// A realistic ICE candidate line, as a page sends them.
fn candidate(i: usize) -> Value {
    let line = format!(
        "candidate:{i} 1 udp 2122260223 192.168.{}.{} {} typ host generation 0",
        i / 250,
        i % 250 + 1,
        40000 + i
    );
    json!({"type": "candidate", "pc": "publish", "candidate": line})
}

/// The `i`th frame of a flood of `kind`, as text.
fn frame(kind: &str, i: usize) -> String {
    let on = i.is_multiple_of(2);
    let v = match kind {
        "hands" => json!({"type": if on { "raise_hand" } else { "lower_hand" }}),
        "media_state" => json!({"type": "media_state", "audio": on, "video": false}),
        "view" => {
            json!({"type": "view", "tiles": [{"participant": "p0", "source": "camera", "width": 320 + i % 7, "height": 180}]})
        }
        "candidate" => candidate(i),
        "chat" => json!({"type": "chat", "text": format!("spam {i}")}),
        "admit_deny" => {
            let t = if on { "admit" } else { "deny" };
            json!({"type": t, "participant": format!("p{}", 900 + i % 50)})
        }
        "same_settings" => json!({"type": "settings", "chat": true, "lobby": false}),
        "unknown" => json!({"type": format!("nope{}", i % 10)}),
        "malformed" => return format!("{{\"type\": \"chat\", \"text\": {i}"),
        _ => unreachable!(),
    };
    v.to_string()
}

/// Kinds a host floods with: host actions (as a participant, they would only be `forbidden`).
fn by_host(kind: &str) -> bool {
    matches!(kind, "admit_deny" | "same_settings")
}

/// Pings from a socket in another room for as long as `until` is not set; the slowest
/// roundtrip, and how many came back.
async fn keep_pinging(
    mut c: Client,
    until: tokio::sync::watch::Receiver<bool>,
) -> (Duration, usize, Vec<Value>) {
    let (mut slowest, mut pongs, mut other) = (Duration::ZERO, 0, Vec::new());
    while !*until.borrow() {
        let sent = Instant::now();
        c.send(json!({"type": "ping"})).await;
        loop {
            let v = c.next().await.expect("the bystander's socket stays open");
            if v["type"] == "pong" {
                break;
            }
            other.push(v);
        }
        slowest = slowest.max(sent.elapsed());
        pongs += 1;
        // Ten a second: well within its own budget.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (slowest, pongs, other)
}

struct Seen {
    /// What each of the others in the flooder's room received during the flood.
    others: [Vec<Value>; 2],
    flooder: Vec<Value>,
    close: Option<u16>,
    flood: Duration,
}

/// Floods `room` with `kind` from a fresh member, with a host and a participant watching.
async fn flood_room(addr: SocketAddr, room: &Room, kind: &str) -> Seen {
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    let secret = if by_host(kind) {
        &room.host_secret
    } else {
        &room.participant_secret
    };
    let (mut fritz, joined) = Client::join(addr, &room.id, secret, "Fritz").await;
    assert_eq!(joined["type"], "joined", "{joined}");
    host.sync().await;
    anna.sync().await;

    let started = Instant::now();
    for i in 0..FLOOD {
        if !fritz.try_send_text(frame(kind, i)).await {
            break;
        }
    }
    let close = fritz.expect_closed().await;
    let flood = started.elapsed();
    // Whatever the room held back goes out within a second of it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let others = [host.sync().await, anna.sync().await];
    Seen {
        others,
        flooder: fritz.seen,
        close,
        flood,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_any_type_is_dropped_told_bounded_and_closed_and_other_rooms_notice_nothing() {
    let (server, addr) = server().await;
    let quiet = create(addr, json!({"kind": "meeting"})).await;
    let (mut ben, _) = Client::join(addr, &quiet.id, &quiet.host_secret, "Ben").await;
    let (mut cem, _) = Client::join(addr, &quiet.id, &quiet.participant_secret, "Cem").await;
    ben.sync().await;
    let (stop, until) = tokio::sync::watch::channel(false);
    let bystander = tokio::spawn(keep_pinging(ben, until));

    let kinds = [
        "hands",
        "media_state",
        "view",
        "candidate",
        "chat",
        "admit_deny",
        "same_settings",
        "unknown",
        "malformed",
    ];
    let dropped_before = common::metric(addr, "aula_messages_rate_limited_total").await;
    for kind in kinds {
        let room = create(addr, json!({"kind": "meeting", "lobby": false})).await;
        let seen = flood_room(addr, &room, kind).await;
        assert_eq!(seen.close, Some(1008), "{kind}: closed as a flood");
        let told = of_type(&seen.flooder, "error")
            .into_iter()
            .filter(|e| e["code"] == "rate_limited" && e.get("re").is_none())
            .count();
        let most = seen.flood.as_secs() as usize + 1;
        assert!(
            (1..=most).contains(&told),
            "{kind}: told {told} times in {:?}",
            seen.flood
        );
        // Each of the others heard a trickle at most: held-back announcements (10 at once,
        // then 4 a second), a few chat lines, and that the flooder left.
        for heard in &seen.others {
            let news: Vec<&Value> = (heard.iter())
                .filter(|m| m["type"] != "participant_left")
                .collect();
            let most = 12 + 4 * seen.flood.as_secs() as usize;
            assert!(
                news.len() <= most,
                "{kind}: {} messages in {:?} (at most {most}): {news:?}",
                news.len(),
                seen.flood,
            );
            if kind == "same_settings" {
                assert!(news.is_empty(), "settings that change nothing: {news:?}");
            }
            eprintln!(
                "{kind}: flooder heard {}, in {:?}; another heard {}",
                seen.flooder.len(),
                seen.flood,
                news.len()
            );
        }
    }
    let dropped = common::metric(addr, "aula_messages_rate_limited_total").await - dropped_before;
    assert!(dropped >= 2000 * kinds.len() as u64, "{dropped} dropped");
    assert_eq!(
        common::metric(addr, "aula_websockets_flooding_total").await,
        kinds.len() as u64
    );

    // The other room was served all along and heard nothing of it.
    assert!(cem.sync().await.is_empty());
    stop.send(true).unwrap();
    let (slowest, pongs, other) = bystander.await.unwrap();
    assert!(pongs > 10, "{pongs} pings answered");
    assert!(slowest < Duration::from_secs(2), "a ping took {slowest:?}");
    assert!(other.is_empty(), "{other:?}");
    drop(server);
}

/// A page's busiest moment, its join, twice over, and a steady lesson after: never limited.
#[tokio::test]
async fn a_pages_join_burst_and_steady_use_are_never_limited() {
    let (_server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Frau Weber").await;
    let (mut anna, _) = Client::join(addr, &room.id, &room.participant_secret, "Anna").await;
    // What a laptop with many addresses sends as it joins, and again after an ICE restart:
    // its state, its view, and 80 candidates per round.
    for round in 0..2 {
        anna.send(json!({"type": "media_state", "audio": round == 0, "video": true}))
            .await;
        anna.send(json!({"type": "view", "tiles": []})).await;
        for i in 0..80 {
            anna.send(candidate(i)).await;
        }
        let pc = if round == 0 { "publish" } else { "subscribe" };
        anna.send(json!({"type": "candidate", "pc": pc, "candidate": ""}))
            .await;
    }
    let seen = anna.sync().await;
    assert!(
        !seen.iter().any(|m| m["code"] == "rate_limited"),
        "{seen:?}"
    );
    // Then a minute's worth of a busy page, in 12 s: 10 messages a second.
    let started = Instant::now();
    for i in 0..120u64 {
        let at = started + Duration::from_millis(100 * i);
        tokio::time::sleep_until(at.into()).await;
        anna.send(json!({"type": "view", "tiles": []})).await;
    }
    let seen = anna.sync().await;
    assert!(
        !seen
            .iter()
            .any(|m| m["code"] == "rate_limited" && m.get("re").is_none()),
        "{seen:?}"
    );
    anna.send(json!({"type": "chat", "text": "noch da"})).await;
    let chat = tokio::time::timeout(ANSWER, host.expect("chat"))
        .await
        .unwrap();
    assert_eq!(chat["message"]["text"], "noch da");
}
