//! A bot whose WebSocket drops resumes as the same participant, and its media never stops:
//! both str0m connections run on while it is away, so the teacher keeps receiving the
//! student's stream and the student the teacher's, without a gap; the teacher sees no leave.

use crate::common;

use std::time::Duration;

use aula_loadtest::gaps::{GapLog, StreamKind};
use aula_loadtest::http::{self, RoomKind, RoomOptions, ServerUrl};
use aula_loadtest::{BotConfig, BotStats, Churn};
use common::{wait_for, wait_until};

/// The longest silence in `log` that overlaps `from..to` (the log's times), counting one
/// that had not ended by the latest frame.
fn gap_during(log: &GapLog, from: Duration, to: Duration) -> Duration {
    let last = log.last.expect("frames arrived");
    let open = (last < to).then(|| to - last.max(from));
    let gaps = log.gaps.iter().filter(|g| g.from < to && g.to > from);
    gaps.map(|g| g.len()).chain(open).max().unwrap_or_default()
}

fn log<'a>(stats: &'a BotStats, remote: &str, kind: StreamKind) -> &'a GapLog {
    let found = stats
        .gap_logs
        .iter()
        .find(|l| l.remote == remote && l.kind == kind);
    found.unwrap_or_else(|| panic!("no {kind:?} log of {remote}: {stats:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_bot_keeps_its_id_and_its_media() {
    let mut config = aula_signaling::Config::for_tests();
    config.resume_grace_secs = 30;
    let server = aula_signaling::start(config).await.expect("server starts");
    let url = ServerUrl::from(server.http_addr);
    let options = RoomOptions::no_lobby(RoomKind::Class);
    let room = http::create_room(&url, &options, common::PATIENCE)
        .await
        .expect("room created");
    let ws = url.ws_url();
    let secret = |s: Option<&str>| s.expect("k= in the link").to_owned();
    let teacher = BotConfig::new(&ws, &room.id, &secret(room.host_secret()), "Frau Weber");
    let student = BotConfig::new(&ws, &room.id, &secret(room.participant_secret()), "Anna");
    let bots = [aula_loadtest::spawn(teacher), aula_loadtest::spawn(student)];
    let stats = wait_until(&bots, "media both ways", |s| {
        s.remotes
            .iter()
            .any(|r| r.audio.frames > 50 && r.video.frames > 20)
    })
    .await;
    let (teacher_id, student_id) = (stats[0].id.clone(), stats[1].id.clone());
    let (teacher_id, student_id) = (teacher_id.expect("joined"), student_id.expect("joined"));

    assert!(bots[1].churn(Churn::Resume, Duration::from_secs(2)).await);
    let churn = wait_for("the student back", async || {
        let s = bots[1].stats().await?;
        s.churns.first().filter(|c| c.back.is_some()).cloned()
    })
    .await;
    assert_eq!(churn.how, Churn::Resume);
    assert!(!churn.fell_back, "{churn:?}");
    let reconnecting = churn.reconnecting.expect("reconnected");
    assert!(reconnecting >= churn.started + Duration::from_secs(2));
    assert!(churn.latency().is_some());
    // A second on the new socket, then look at what flowed meanwhile.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = wait_until(&bots, "stats", |_| true).await;
    let (t, s) = (&stats[0], &stats[1]);
    assert_eq!(
        s.id.as_deref(),
        Some(student_id.as_str()),
        "the same participant"
    );
    assert_eq!(s.presences.len(), 1, "{:?}", s.presences);
    assert!(
        t.remote(&student_id).is_some_and(|r| r.left.is_none()),
        "no participant_left for a resume"
    );
    // The churn's times are the student's; the teacher's clock started a little earlier.
    let (from, to) = (churn.started, churn.back.expect("back"));
    let lead = s.epoch.expect("epoch") - t.epoch.expect("epoch");
    for kind in [StreamKind::Audio, StreamKind::Video] {
        let heard = gap_during(log(s, &teacher_id, kind), from, to);
        assert!(
            heard < Duration::from_millis(500),
            "{kind:?}: student missed {heard:?}"
        );
        let seen = gap_during(log(t, &student_id, kind), from + lead, to + lead);
        assert!(
            seen < Duration::from_millis(500),
            "{kind:?}: teacher missed {seen:?}"
        );
    }
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
