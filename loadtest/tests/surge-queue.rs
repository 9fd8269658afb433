//! A small surge through the join queue: 20 people within 2 s into 2 classes on a server
//! that lets 5 in at once. Everyone gets in as others leave, nobody fails, positions fall,
//! and the server never holds more than its ceiling.

use std::time::Duration;

use aula_loadtest::http::ServerUrl;
use aula_loadtest::scenario::{Kind, Scenario};
use aula_loadtest::server::ServerUnderTest;
use aula_loadtest::target::Target;

const CEILING: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_waits_its_turn_and_everyone_gets_in() {
    let mut config = aula_signaling::Config::for_tests();
    config.max_participants = CEILING;
    let server = aula_signaling::start(config).await.expect("server starts");
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(server.http_addr),
        pid: None,
    };
    let mut spec = Scenario::new(Kind::Surge);
    (spec.participants, spec.rooms) = (20, 2);
    spec.within = Some(Duration::from_secs(2));
    spec.host.video = None; // audio only: a debug build on 2 cores
    spec.surge.stay = Duration::from_secs(2);
    spec.surge.running = 0;
    spec.surge.run_limit = Duration::from_secs(30);
    spec.surge.page_loads = true;

    let r = aula_loadtest::surge::run(&spec, &sut).await.expect("runs");
    let table = aula_loadtest::surge::report::render(&r);
    assert_eq!(r.admitted, 20, "{table}");
    assert_eq!(r.failures, 0, "{table}");
    assert_eq!(r.http.server_error + r.http.no_answer, 0, "{table}");
    assert!(r.queued > 0, "the ceiling made people wait: {table}");
    assert!(r.positions_fell > 0, "{table}");
    let peak = r.peak_present.expect("metrics read") as usize;
    assert!(peak <= CEILING, "{peak} present at once: {table}");
    for s in &r.seconds {
        assert!(
            s.admitted <= CEILING,
            "{} admitted at {} s: {table}",
            s.admitted,
            s.t
        );
    }
    server.shutdown().await;
}
