//! `GET /api/rooms/{id}/bandwidth`: the allocator's picture of a room for its hosts (with the
//! host link's secret only), and the allocator's gauges in `/metrics`, with real bots.

use crate::common;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use aula_loadtest::http;

async fn get(addr: SocketAddr, path: &str, bearer: &str) -> (u16, serde_json::Value) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\n\
         Connection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let (status, body) = http::parse_response(&raw).expect("an HTTP response");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_see_each_subscribers_estimate_and_layers_and_nobody_else_does() {
    let (server, url) = common::start().await;
    let room = common::create_room(&url).await;
    let (bots, ids) = common::class_in_media(&url, &room, 2).await;
    let path = format!("/api/rooms/{}/bandwidth", room.id);
    let host = room.host_secret().expect("host link");
    let participant = room.participant_secret().expect("participant link");

    for (secret, status) in [(participant, 403), ("", 403), ("nonsense", 403)] {
        assert_eq!(get(server.http_addr, &path, secret).await.0, status);
    }
    assert_eq!(
        get(server.http_addr, "/api/rooms/nope/bandwidth", host)
            .await
            .0,
        404
    );

    // The allocator runs twice a second; within a few, every bot has an estimate and a down
    // track with a layer for every other bot's video (a subscription can land after the first
    // estimate, and a raise ceiling can hold a video paused until the link has carried more).
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, body) = get(server.http_addr, &path, host).await;
        assert_eq!(status, 200);
        let subs = body["subscribers"].as_array().cloned().unwrap_or_default();
        let settled = subs.iter().all(|s| {
            s["estimate_bps"].as_u64().is_some()
                && s["videos"].as_array().is_some_and(|v| {
                    v.len() == ids.len() - 1 && v.iter().all(|v| v["layer"]["height"].is_u64())
                })
        });
        last = body;
        if subs.len() == ids.len() && settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let subs = last["subscribers"].as_array().expect("subscribers");
    assert_eq!(subs.len(), ids.len(), "{last}");
    for s in subs {
        let me = s["participant"].as_str().unwrap();
        assert!(ids.iter().any(|id| id == me), "{s}");
        assert!(s["estimate_bps"].as_u64().unwrap() > 100_000, "{s}");
        let videos = s["videos"].as_array().unwrap();
        assert_eq!(
            videos.len(),
            ids.len() - 1,
            "a video from each other bot: {s}"
        );
        assert!(
            videos
                .iter()
                .all(|v| v["layer"]["height"].as_u64().is_some()),
            "{s}"
        );
        // Each layer's rate, and together no more than what the subscriber is allocated.
        let rates: Vec<u64> = videos
            .iter()
            .map(|v| v["layer"]["bps"].as_u64().unwrap_or(0))
            .collect();
        assert!(rates.iter().all(|&r| r > 0), "{s}");
        let allocated = s["allocated_bps"].as_u64().unwrap();
        assert!(rates.iter().sum::<u64>() < allocated, "{s}");
        assert!(!last.to_string().contains("Weber"), "no names");
    }
    assert!(common::metric(server.http_addr, "aula_bandwidth_subscribers").await >= 3);
    assert!(common::metric(server.http_addr, "aula_bandwidth_allocated_bps").await > 0);

    for bot in bots {
        bot.leave().await;
    }
    server.shutdown().await;
}
