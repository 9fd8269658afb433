//! When a publisher's connection is replaced (a new `publish` after a network change), every
//! subscriber keeps receiving on the same stream: same m-line (so same SSRC), sequence numbers
//! without a gap, and RTP timestamps that continue from where they were, though the new
//! connection starts from a new random timestamp.

use crate::common;

use std::time::Duration;

use aula_sfu::Kind;
use common::Sim;

#[test]
fn subscriber_stream_is_continuous_across_publisher_restart() {
    let mut sim = Sim::new(5);
    sim.join();
    sim.publish(0);
    sim.join();
    sim.run_for(Duration::from_secs(2));
    let offers_before = sim.clients[1].offers;
    let frames_before = sim.frames(1, 0, Kind::Video).len();

    sim.publish(0); // the teacher's laptop switched from Wi-Fi to cable
    sim.run_for(Duration::from_secs(2));

    assert_eq!(
        sim.clients[1].offers, offers_before,
        "no renegotiation for a restart"
    );
    for kind in [Kind::Audio, Kind::Video] {
        let frames = sim.frames(1, 0, kind);
        assert!(frames.len() > frames_before + 20, "{kind:?} keeps flowing");
        let mid = frames[0].mid;
        assert!(
            frames.iter().all(|f| f.mid == mid),
            "{kind:?} stays on one m-line"
        );
        for pair in frames.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert_eq!(
                b.first_seq,
                a.last_seq + 1,
                "{kind:?} sequence numbers continue"
            );
            assert!(b.rtp_time > a.rtp_time, "{kind:?} timestamps move forward");
            // No jump: the timestamp advances by about the wall-clock gap, never by the
            // difference between the two connections' random starting points.
            let hz = if kind == Kind::Audio { 48_000 } else { 90_000 };
            let wall = (b.at - a.at).as_secs_f64() * hz as f64;
            let rtp = (b.rtp_time - a.rtp_time) as f64;
            assert!(
                rtp < wall + hz as f64 * 0.2,
                "{kind:?} jumped {rtp} ticks in {wall}"
            );
        }
    }
}
