//! Media flows through the real server between bots that join one room over the real WebSocket
//! signaling and real WebRTC (ICE, DTLS, SRTP) on loopback: every bot receives audio and video
//! from every other publisher, and when one bot leaves the others get `participant_left` while
//! their own media keeps flowing.

use crate::common;

use common::frames_from;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bot_gets_audio_and_video_from_every_other_publisher() {
    let (server, url) = common::start().await;
    let room = common::create_room(&url).await;
    let mut bots = common::class(&url, &room, 2);
    let ids = common::joined_ids(&mut bots).await;

    let stats = common::wait_until(&mut bots, "media from every other bot", |s| {
        common::has_media_from_all(s, &ids)
    })
    .await;

    for s in &stats {
        let me = s.id.as_deref().expect("joined");
        assert!(s.publish_ice_connected.is_some() && s.subscribe_ice_connected.is_some());
        for other in ids.iter().filter(|id| id.as_str() != me) {
            let remote = s.remote(other).expect("seen");
            assert!(
                remote.audio.delay.count > 0,
                "{me} measured delay from {other}"
            );
            assert!(
                remote.video.keyframes > 0,
                "{me} started {other}'s video on a keyframe"
            );
        }
        assert!(s.remote(me).is_none(), "{me} does not receive itself");
        assert!(s.errors.is_empty(), "{me} saw errors: {:?}", s.errors);
    }
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_get_participant_left_and_keep_their_media() {
    let (server, url) = common::start().await;
    let room = common::create_room(&url).await;
    let (mut bots, ids) = common::class_in_media(&url, &room, 2).await;

    let leaver = bots.pop().expect("three bots");
    let left_id = ids.last().expect("three ids").clone();
    let report = leaver.leave().await;
    assert!(report.error.is_none(), "{:?}", report.error);

    let before = common::wait_until(&mut bots, "participant_left", |s| {
        s.remote(&left_id).is_some_and(|r| r.left.is_some())
    })
    .await;
    let (a, b) = (ids[0].as_str(), ids[1].as_str());
    let (a_from_b, b_from_a) = (frames_from(&before[0], b), frames_from(&before[1], a));
    common::wait_until(
        &mut bots,
        "media still flowing after the leave",
        |s| match s.id.as_deref() {
            Some(id) if id == a => frames_from(s, b) > a_from_b + 20,
            Some(_) => frames_from(s, a) > b_from_a + 20,
            None => false,
        },
    )
    .await;

    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
