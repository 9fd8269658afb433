//! A fault in one room's media code (a panic, as a bug would cause; injected here with
//! aula-sfu's `fault-injection` feature) ends that room's media state and nothing else: the
//! other room on the same media worker goes on without a gap, and the faulty room's
//! participants are joined again on the same seats and their connections start anew
//! (docs/architecture.md, "A fault in one room").

use crate::common;

use aula_loadtest::http::ServerUrl;
use aula_sfu::{Command, RoomId};
use aula_signaling::Config;

use common::frames_from;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_in_one_rooms_media_starts_it_again_and_leaves_the_other_room_alone() {
    let mut config = Config::for_tests();
    // One media worker: both rooms share it, as rooms do on a school's server.
    config.media_workers = 1;
    let (server, addr) = common::client::server_with(config).await;
    let url = ServerUrl::from(addr);
    let faulty = common::create_room(&url).await;
    let other = common::create_room(&url).await;
    let (mut class, class_ids) = common::class_in_media(&url, &faulty, 1).await;
    let (mut neighbours, ids) = common::class_in_media(&url, &other, 1).await;
    let before = common::wait_until(&mut neighbours, "the other room's media", |_| true).await;
    let (a, b) = (ids[0].as_str(), ids[1].as_str());
    let (a_from_b, b_from_a) = (frames_from(&before[0], b), frames_from(&before[1], a));

    server
        .sfu()
        .send(&RoomId::from(faulty.id.as_str()), Command::Fault)
        .expect("sent");

    // The faulty room: each bot is told `joined` again on its seat, opens new connections,
    // and gets everyone's media on them.
    let again = common::wait_until(&mut class, "media again after the fault", |s| {
        s.media_restarts == 1 && common::has_media_from_all(s, &class_ids)
    })
    .await;
    for s in &again {
        let id = s.id.clone().expect("joined");
        assert!(class_ids.contains(&id), "{id} kept its seat");
        assert!(s.errors.is_empty(), "{id} saw errors: {:?}", s.errors);
    }
    // The other room: media went on, and nothing was restarted there.
    let after = common::wait_until(
        &mut neighbours,
        "the other room's media going on",
        |s| match s.id.as_deref() {
            Some(id) if id == a => frames_from(s, b) > a_from_b + 50,
            Some(_) => frames_from(s, a) > b_from_a + 50,
            None => false,
        },
    )
    .await;
    for s in &after {
        assert_eq!(s.media_restarts, 0, "{:?}", s.id);
        assert!(s.errors.is_empty(), "{:?} saw errors: {:?}", s.id, s.errors);
        for remote in &s.remotes {
            let missing = (remote.audio.frames_missing(), remote.video.frames_missing());
            assert_eq!(
                missing,
                (0, 0),
                "{:?}: frames lost from {}",
                s.id,
                remote.id
            );
        }
    }
    assert_eq!(server.sfu().metrics().core.rooms_failed, 1);

    for bot in class.into_iter().chain(neighbours) {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
