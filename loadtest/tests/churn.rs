//! A short churn run against a server started in-process: one class of five bots where the
//! teacher and students leave and come back (resuming after a dropped socket, or joining
//! anew) about once every two seconds. The verdict must be ok: no renegotiation failed, no
//! stayer went without someone's media for over a second through another's churn, everyone
//! came back; resumes and rejoins both really happened, and media flowed throughout.
//! Load runs proper are not tests (docs/benchmarks.md).

use std::time::Duration;

use aula_loadtest::Churn;
use aula_loadtest::churn;
use aula_loadtest::http::ServerUrl;
use aula_loadtest::scenario::{self, Kind, Media, Scenario};
use aula_loadtest::server::ServerUnderTest;
use aula_loadtest::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_of_five_survives_churn() {
    let mut config = aula_signaling::Config::for_tests();
    // The tests' grace (3 s) is as long as the longest pause; this is about resumes that
    // make it (tests/resume-fallback.rs is about those that do not).
    config.resume_grace_secs = 30;
    // This is about who sees whom through churn, not about bandwidth (tests/impair.rs is).
    // With adaptation on, a stayer's thumbnails were paused for 3 to 5 s around a teacher's
    // rejoin on loopback: the subscriber's estimate settles near what it receives, a dip
    // below the rejoined teacher's not yet measured layer pauses the others, and a pause
    // holds for 5 s (allocate::UPGRADE_HOLD).
    config.bandwidth_adaptation = false;
    let server = aula_signaling::start(config).await.expect("server starts");
    let mut spec = Scenario::new(Kind::Churn);
    (spec.rooms, spec.participants) = (1, 5);
    spec.duration = Duration::from_secs(21);
    spec.churn.per_min = 60.0;
    spec.seed = 3;
    // Light media: this checks who sees whom through churn, not the server's capacity.
    spec.host = Media::camera(200);
    spec.participant = Media::camera(100);
    let planned = churn::schedule(
        &spec.churn,
        &spec.room_sizes(),
        Duration::ZERO,
        spec.duration,
        spec.seed,
    );
    let kinds = |how| planned.iter().filter(|e| e.how == how).count();
    assert!(
        kinds(Churn::Resume) >= 2 && kinds(Churn::Rejoin) >= 2,
        "seed 3 plans both kinds: {planned:?}"
    );
    let sut = ServerUnderTest {
        target: Target::Aula,
        url: ServerUrl::from(server.http_addr),
        pid: Some(std::process::id()),
    };
    let report = tokio::time::timeout(Duration::from_secs(60), scenario::run(&spec, &sut))
        .await
        .expect("the run ends by itself")
        .expect("the run starts");
    server.shutdown().await;
    print!("{}", aula_loadtest::table::render(&report));

    assert!(report.verdict.ok, "{}", report.verdict.line);
    let c = report.churn.as_ref().expect("a churn section");
    assert_eq!(c.events.planned, planned.len());
    assert_eq!(c.events.sent + c.events.skipped, c.events.planned);
    assert!(c.resumes.started >= 1 && c.rejoins.started >= 1, "{c:#?}");
    assert_eq!(c.resumes.back, c.resumes.started, "every resume came back");
    assert_eq!(c.rejoins.back, c.rejoins.started, "every rejoin came back");
    assert_eq!(c.resumes.fell_back, 0, "all within the grace");
    assert_eq!(c.renegotiations_failed(), 0);
    assert!(
        c.renegotiations_failed_server.is_some(),
        "the server counts failed renegotiations"
    );
    assert_eq!(c.server_resumes, Some(c.resumes.started as u64));
    assert!(c.resume_ms.count >= 1 && c.rejoin_ms.count >= 1);
    assert!(
        c.rejoin_media_ms.max.is_some(),
        "a rejoiner's media came back"
    );
    assert_eq!(c.gaps_over_1s_by_churn, 0);
    // Five bots, four publishers each, more pairs as rejoiners come back as someone new.
    assert!(c.pairs >= 20, "{} pairs", c.pairs);
    assert_eq!(report.media.pairs_without_media, 0);
    assert!(report.media.delay_ms.frames > 1000, "media flowed");
}
