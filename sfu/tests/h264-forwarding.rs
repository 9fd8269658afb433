//! A publisher whose camera sends H.264 (constrained baseline, packetization-mode 1, as Safari
//! prefers) reaches the others as H.264, keyframes recognised, next to a VP8 publisher; a
//! subscriber without H.264 gets its VP8 and is told, once, that the H.264 video cannot be
//! forwarded to it, and every frame it misses is counted.

use crate::common;

use std::time::Duration;

use aula_sfu::Kind;
use common::Sim;
use str0m::format::Codec;

#[test]
fn h264_and_vp8_publishers_in_one_room() {
    let mut sim = Sim::new(11);
    sim.join();
    sim.clients[0].video_codec = Codec::H264;
    sim.publish(0);
    sim.join();
    sim.publish(1);
    sim.join();
    sim.run_for(Duration::from_secs(3));

    for i in [1, 2] {
        let video = sim.frames(i, 0, Kind::Video);
        assert!(video.len() > 30, "{i} got {} H.264 frames", video.len());
        assert!(video[0].keyframe, "H.264 starts on an IDR frame");
        // With its parameter sets, which the publisher sends ahead of the IDR: without
        // them a browser's decoder drops the IDR and asks for another.
        assert!(video[0].sps, "and its SPS");
        assert!(video.iter().filter(|f| f.keyframe).all(|f| f.sps));
        assert!(
            video.iter().all(|f| f.codec == Codec::H264),
            "forwarded as H.264"
        );
    }
    let vp8 = sim.frames(2, 1, Kind::Video);
    assert!(
        vp8.len() > 30 && vp8.iter().all(|f| f.codec == Codec::Vp8),
        "VP8 beside it"
    );
    assert!(
        sim.frames(0, 1, Kind::Video).len() > 30,
        "the H.264 sender receives VP8"
    );
}

#[test]
fn a_subscriber_without_h264_is_told_and_the_drops_are_counted() {
    let mut sim = Sim::new(12);
    sim.join();
    sim.clients[0].video_codec = Codec::H264;
    sim.publish(0);
    sim.join();
    sim.publish(1);
    sim.join();
    sim.clients[2].vp8_only = true;
    sim.run_for(Duration::from_secs(3));

    assert!(
        sim.frames(2, 0, Kind::Video).is_empty(),
        "no H.264 to a VP8-only page"
    );
    assert!(
        sim.frames(2, 0, Kind::Audio).len() > 50,
        "the audio still arrives"
    );
    assert!(
        sim.frames(2, 1, Kind::Video).len() > 30,
        "VP8 from the other one"
    );
    let told = &sim.clients[2].unavailable;
    assert_eq!(told.len(), 1, "said once, not per frame: {told:?}");
    let (from, source, reason, codec) = &told[0];
    assert_eq!(*from, sim.clients[0].id);
    assert_eq!(*source, aula_sfu::Source::Camera);
    assert_eq!((reason.as_str(), codec.as_str()), ("codec", "H264"));
    let dropped = sim.worker.stats().frames_dropped_codec;
    assert!(dropped > 30, "every missed frame counted: {dropped}");
    assert!(sim.clients[1].unavailable.is_empty());
}
