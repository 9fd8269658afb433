//! A bounded smoke run of the scenario tool: one class of a teacher (host) and three students
//! (participants) against a server started in-process, 4 s. The room has no lobby, and the
//! students' microphones are forwarded because the bots turn them on with `media_state`. Every bot must join and receive media from every
//! publisher, and every report field must be present and sane once the JSON is parsed back.
//! Load runs proper are not tests (docs/benchmarks.md).

use std::time::Duration;

use aula_loadtest::http::ServerUrl;
use aula_loadtest::scenario::{self, Kind, Media, Scenario};
use aula_loadtest::server::ServerUnderTest;
use aula_loadtest::target::Target;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_class_of_four_reports_every_field() {
    // Without bandwidth adaptation: bots and server share two cores here, and the bots'
    // transport-wide feedback, stamped by a busy runtime, can read as a congested link; the
    // allocator then pauses cameras for seconds (a CI run measured 145 kbit/s at the median).
    // That is sfu/tests/adaptation.rs's and the impair scenario's subject, not this test's.
    let mut config = aula_signaling::Config::for_tests();
    config.bandwidth_adaptation = false;
    let server = aula_signaling::start(config).await.expect("server starts");
    let mut spec = Scenario::new(Kind::Class);
    spec.students = 3;
    spec.duration = Duration::from_secs(4);
    // Light media: this checks the instrument, not the server's capacity.
    spec.host = Media::camera(300);
    spec.participant = Media::camera(100);
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(server.http_addr),
        // The server runs in this process, so this measures server and bots together; the
        // test checks that the fields are filled, not what they say.
        pid: Some(std::process::id()),
    };
    let report = tokio::time::timeout(Duration::from_secs(20), scenario::run(&spec, &sut))
        .await
        .expect("the run ends by itself")
        .expect("the run starts");
    server.shutdown().await;
    print!("{}", aula_loadtest::table::render(&report));

    assert!(report.verdict.ok, "{}", report.verdict.line);
    assert!(report.verdict.line.starts_with("VERDICT: ok — 4/4 joined"));
    let json: Value = serde_json::to_value(&report).expect("serializes");
    let text = serde_json::to_string(&json).expect("text");
    let back: Value = serde_json::from_str(&text).expect("parses back");
    let num = |path: &str| {
        back.pointer(path)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{path} missing or not a number in {back:#}"))
    };

    assert_eq!(num("/joins/planned"), 4.0);
    assert_eq!(num("/joins/joined"), 4.0);
    for phase in [
        "ws_open_ms",
        "joined_ms",
        "ice_connected_ms",
        "first_media_ms",
    ] {
        let p50 = num(&format!("/joins/{phase}/p50"));
        let max = num(&format!("/joins/{phase}/max"));
        assert!((0.0..10_000.0).contains(&p50) && p50 <= max, "{phase}");
        num(&format!("/joins/{phase}/p95"));
        num(&format!("/joins/{phase}/p99"));
    }
    assert!(num("/joins/ws_open_ms/p50") <= num("/joins/first_media_ms/p50"));
    assert_eq!(back["failures"], serde_json::json!({}));

    // Four subscribers, each with three publishers.
    assert_eq!(num("/media/subscribers"), 4.0);
    assert_eq!(num("/media/pairs"), 12.0);
    assert_eq!(num("/media/pairs_without_media"), 0.0);
    // Students get 300 + 2 x 100 kbit/s of video plus three audio streams.
    let kbps = num("/media/bitrate_kbps/p50");
    assert!((150.0..2000.0).contains(&kbps), "{kbps} kbit/s");
    let loss = num("/media/loss_percent_total");
    assert!((0.0..5.0).contains(&loss), "{loss} % loss");
    assert!((0.0..200.0).contains(&num("/media/jitter_ms/p50")));
    assert!(num("/media/delay_ms/frames") > 100.0);
    assert!((0.0..500.0).contains(&num("/media/delay_ms/mean")));

    assert!(num("/server/cpu_percent") > 0.0);
    assert!(num("/server/rss_mib_max") > 1.0);
    assert!(num("/server/rss_mib_start") > 1.0);
    back.pointer("/server/rss_kib_per_participant")
        .and_then(Value::as_f64)
        .expect("rss per participant");
    assert_eq!(back["server"]["packets_source"], "server /metrics");
    assert!(num("/server/forwarded_packets_per_s") > 100.0);
    assert!(num("/server/frames_forwarded_per_s") > 10.0);
    let us = num("/server/cpu_us_per_forwarded_packet");
    assert!(us > 0.0 && us < 100_000.0, "{us} µs per packet");
    // Every datagram the server sends comes out of a poll, and str0m's own timers (sender
    // reports, feedback, ICE) take timeouts of their own: some, but not thousands a datagram.
    let timeouts = num("/server/timeouts_per_datagram_out");
    assert!(
        timeouts > 0.0 && timeouts < 100.0,
        "{timeouts} timeouts per datagram"
    );
    assert_eq!(back["server"]["alive_at_end"], true);
    let rss = back["server"]["rss_mib_samples"].as_array().expect("array");
    assert!(rss.len() >= 4, "one sample a second");
    assert!(num("/loadtest/cpu_percent") > 0.0);
    assert!(num("/loadtest/cpu_percent_per_bot") > 0.0);
    assert!(num("/loadtest/rss_mib") > 1.0);
    assert_eq!(back["scenario"]["kind"], "class");
    assert_eq!(back["verdict"]["ok"], true);
}

/// Nothing listens: a clear error, quickly, not a hang.
#[tokio::test]
async fn unreachable_server_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut spec = Scenario::new(Kind::Meeting);
    spec.participants = 2;
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(addr),
        pid: None,
    };
    let result = tokio::time::timeout(Duration::from_secs(10), scenario::run(&spec, &sut))
        .await
        .expect("fails fast");
    let error = result.expect_err("nothing listens");
    let text = format!("{:#}", anyhow::Error::new(error));
    assert!(text.contains("cannot reach server"), "{text}");
}
