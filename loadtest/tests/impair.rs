//! A short `impair` run against a server started in-process: a class of a teacher and four
//! students, all publishing simulcast, the last student's downlink through a shaping relay
//! at 1 Mbit/s for 10 s and 0.6 Mbit/s for 10 s (its twin, unshaped, shows the demand: about
//! 2 Mbit/s). The server must adapt: get under the capacity soon after the drop, send about
//! what the link carries once settled, and fill it. The bounds are looser than the
//! issue's targets (2 s, 0.8; RFC 8867's 300 ms queue and 50 ms delay), for a debug build on
//! a busy machine; a server that ignored the
//! link would send the demand, twice the capacity, and fail all of them. The full 100 s run
//! and its figures are in docs/benchmarks.md, not here.

use std::time::Duration;

use aula_loadtest::http::ServerUrl;
use aula_loadtest::link::Profile;
use aula_loadtest::scenario::{self, Kind, Scenario};
use aula_loadtest::server::ServerUnderTest;
use aula_loadtest::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shaped_student_is_sent_what_its_link_carries() {
    let server = aula_signaling::start(aula_signaling::Config::for_tests())
        .await
        .expect("server starts");
    let mut spec = Scenario::new(Kind::Impair);
    spec.students = 4;
    spec.duration = Duration::from_secs(20);
    spec.impair.profile = Some(Profile::parse("0:1,10:0.6").expect("a profile"));
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(server.http_addr),
        pid: Some(std::process::id()),
    };
    let report = tokio::time::timeout(Duration::from_secs(90), scenario::run(&spec, &sut))
        .await
        .expect("the run ends by itself")
        .expect("the run starts");
    server.shutdown().await;
    print!("{}", aula_loadtest::table::render(&report));

    assert_eq!(report.joins.joined, 5);
    let r = report.impair.as_ref().expect("an impair section");
    assert!(r.has_twin);
    let [before, after] = &r.phases[..] else {
        panic!("two phases: {:?}", r.phases);
    };
    let demand = before.demand_kbps.expect("the twin measured the demand");
    assert!(
        demand > 1300.0,
        "the page asks for more than 1 Mbit/s: {demand}"
    );
    // Audio alone (four publishers) would be under half the capacity; at 1 Mbit/s video
    // comes through too, not just padding.
    assert!(
        before.utilization > 0.5 && after.utilization > 0.5,
        "the link is used: {before:?} {after:?}"
    );
    assert!(
        before.media_kbps > 0.5 * before.capacity_kbps,
        "media, not padding: {before:?}"
    );
    let drop = &r.recoveries[0];
    let first = drop
        .first_under_s
        .expect("the server got under the new capacity");
    // The target is 2 s; in this debug build on a busy machine the server takes
    // seconds, sending a few percent over the link for a while (docs/benchmarks.md,
    // impair). Getting under within the phase tells adaptation from none: a server that
    // ignored the link would never get under, and fails the next check too.
    assert!(first <= 9.0, "under the capacity {first} s after the drop");
    // Not the demand (three times the capacity): about what the link carries.
    assert!(
        after.sent_kbps <= 1.3 * after.capacity_kbps,
        "sent {:.0} kbit/s into {:.0} once settled",
        after.sent_kbps,
        after.capacity_kbps
    );
    // Audio is never cut: every publisher's still came in the last seconds.
    assert!(r.audio.loss_percent < 10.0, "{:?}", r.audio);
    let last = &r.seconds[r.seconds.len() - 1];
    assert!(last.received_kbps > 200.0, "{last:?}");
    assert!(
        r.seconds.iter().any(|s| s.estimate_kbps.is_some()),
        "the server's estimate was read"
    );
}
