//! Garbage on the media port while a lesson is on: random bytes, fake STUN, fake RTP and DTLS
//! from strangers, even from a port next to a real participant's. It is dropped and counted,
//! and the lesson's media keeps flowing.

use crate::common;

use std::net::UdpSocket;

use common::frames_from as frames;
use rand::{Rng, SeedableRng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_do_not_disturb_a_lesson() {
    let (server, url) = common::start().await;
    let room = common::create_room(&url).await;
    let mut bots = common::class(&url, &room, 1);
    let ids = common::joined_ids(&mut bots).await;
    let before = common::wait_until(&mut bots, "media between both bots", |s| {
        common::has_media_from_all(s, &ids)
    })
    .await;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let (a_from_b, b_from_a) = (frames(&before[0], &b), frames(&before[1], &a));

    let media = server.media_addrs[0];
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for i in 0..3000 {
        let len = rng.random_range(0..1400);
        let mut data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if let Some(first) = data.first_mut() {
            // STUN, RTP, DTLS, and anything else.
            *first = [0x00, 0x01, 0x80, 0x90, 0x16, *first][i % 6];
        }
        if i % 6 == 0 && data.len() >= 20 {
            data[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]); // a STUN magic cookie
        }
        socket.send_to(&data, media).unwrap();
    }

    common::wait_until(
        &mut bots,
        "media still flowing after the garbage",
        |s| match s.id.as_deref() {
            Some(id) if id == a => frames(s, &b) > a_from_b + 50,
            Some(_) => frames(s, &a) > b_from_a + 50,
            None => false,
        },
    )
    .await;
    let unroutable = common::metric(server.http_addr, "aula_udp_dropped_unroutable_total").await;
    assert!(unroutable > 0, "garbage is counted");
    for bot in bots {
        let report = bot.leave().await;
        assert!(report.error.is_none(), "{:?}", report.error);
    }
    server.shutdown().await;
}
