//! A host's mute is enforced by the SFU: the muted participant's client keeps sending audio (a
//! bot ignores `moderated`), yet no audio from it reaches anyone, while its video flows on. When
//! it unmutes (the settings allow it), its audio flows again.

use crate::common;

use aula_loadtest::BotStats;
use common::wait_until;
use serde_json::json;

fn audio_from(s: &BotStats, id: &str) -> u64 {
    s.remote(id).map_or(0, |r| r.audio.frames)
}

fn video_from(s: &BotStats, id: &str) -> u64 {
    s.remote(id).map_or(0, |r| r.video.frames)
}

fn shown_muted(s: &BotStats, id: &str) -> bool {
    let p = s.remote(id).and_then(|r| r.participant.as_ref());
    p.is_some_and(|p| !p.audio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_audio_stops_at_the_sfu_whatever_the_client_sends() {
    let (server, url) = common::start().await;
    let room = common::create_room(&url).await;
    let mut bots = common::class(&url, &room, 2);
    let ids = common::joined_ids(&mut bots).await;
    let (host, anna, ben) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    wait_until(&mut bots, "media from every other bot", |s| {
        common::has_media_from_all(s, &ids)
    })
    .await;

    assert!(
        bots[0]
            .send_json(json!({"type": "mute", "participant": anna}))
            .await
    );
    // Once everyone shows Anna muted, frames already on the wire get a moment to arrive: the
    // host and Ben each see some more of her video first.
    let seen = wait_until(&mut bots, "Anna shown muted", |s| {
        s.id.as_deref() == Some(anna.as_str()) || shown_muted(s, &anna)
    })
    .await;
    let (v_host, v_ben) = (video_from(&seen[0], &anna), video_from(&seen[2], &anna));
    let settled = wait_until(&mut bots, "more video from Anna", |s| {
        match s.id.as_deref() {
            Some(id) if id == host => video_from(s, &anna) > v_host + 5,
            Some(id) if id == ben => video_from(s, &anna) > v_ben + 5,
            _ => true,
        }
    })
    .await;
    let (a_host, a_ben) = (
        audio_from(&settled[0], &anna),
        audio_from(&settled[2], &anna),
    );
    let sent = settled[1].sent.audio_frames;

    // Another second and more of video from Anna: her audio did not move, though she sent it.
    let later = wait_until(&mut bots, "a second more of Anna's video", |s| {
        match s.id.as_deref() {
            Some(id) if id == host => video_from(s, &anna) > v_host + 40,
            Some(id) if id == ben => video_from(s, &anna) > v_ben + 40,
            _ => s.sent.audio_frames > sent + 50,
        }
    })
    .await;
    assert_eq!(
        audio_from(&later[0], &anna),
        a_host,
        "the host still hears Anna"
    );
    assert_eq!(audio_from(&later[2], &anna), a_ben, "Ben still hears Anna");
    assert!(audio_from(&later[0], &ben) > 0 && audio_from(&later[2], &host) > 0);
    assert!(common::metric(server.http_addr, "aula_frames_gated_total").await >= 50);

    // Anna unmutes herself, which a class allows by default: everyone hears her again.
    let msg = json!({"type": "media_state", "audio": true, "video": true, "screen": false});
    assert!(bots[1].send_json(msg).await);
    wait_until(&mut bots, "Anna's audio again", |s| match s.id.as_deref() {
        Some(id) if id == host => audio_from(s, &anna) > a_host + 25,
        Some(id) if id == ben => audio_from(s, &anna) > a_ben + 25,
        _ => true,
    })
    .await;
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
