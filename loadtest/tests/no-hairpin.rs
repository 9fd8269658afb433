//! A school's server behind NAT (`public_ip`) whose router cannot hairpin: a browser inside the
//! school cannot reach the public address, only the server's own. The server offers both in
//! its SDP, so pupils at home take the public one and those inside the school the local one.
//!
//! Here the public address is one nobody can reach (TEST-NET-3), the media socket is on this
//! machine's first non-loopback IPv4 address, and the bots are "inside the school": they join
//! and receive every publisher's media only if the local address is offered too.

use std::net::IpAddr;
use std::time::Duration;

use aula_loadtest::http::ServerUrl;
use aula_loadtest::scenario::{self, Kind, Media, Scenario};
use aula_loadtest::server::ServerUnderTest;
use aula_loadtest::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupils_inside_the_school_reach_the_server_without_hairpin_nat() {
    let lan = aula_loadtest::lan_ipv4()
        .expect("this test needs a non-loopback IPv4 address (a LAN interface)");
    let mut config = aula_signaling::Config::for_tests();
    config.bandwidth_adaptation = false;
    config.media_ips = vec![lan];
    config.public_ip = Some(IpAddr::from([203, 0, 113, 7]));
    let server = aula_signaling::start(config).await.expect("server starts");
    let mut spec = Scenario::new(Kind::Class);
    spec.students = 2;
    spec.duration = Duration::from_secs(3);
    spec.host = Media::camera(300);
    spec.participant = Media::camera(100);
    spec.local_ip = lan;
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(server.http_addr),
        pid: None,
    };
    let report = tokio::time::timeout(Duration::from_secs(30), scenario::run(&spec, &sut))
        .await
        .expect("the run ends by itself")
        .expect("the run starts");
    server.shutdown().await;
    print!("{}", aula_loadtest::table::render(&report));
    assert!(report.verdict.ok, "{}", report.verdict.line);
}
