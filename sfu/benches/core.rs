//! What the SFU core costs, without sockets or threads: `cargo bench -p aula-sfu`.
//!
//! A simulated class (the harness of `tests/common`) runs in simulated time; the real time spent
//! inside the core's datagram, timeout and output handling is measured and divided by what it
//! forwarded. Client-side work (the str0m clients' own encryption) is not counted. Prints one
//! line per case; docs/benchmarks.md records them.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use aula_sfu::Command;
use common::Sim;

fn main() {
    // `--lecture N`: only a lecture of one publisher and N listeners for 5 s, for profiling
    // memory (valgrind --tool=massif) or CPU (perf) of the fan-out path alone.
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args
        .iter()
        .position(|a| a == "--lecture")
        .map(|i| &args[i + 1])
    {
        lecture(n.parse().expect("--lecture N"));
        return;
    }
    // `--meeting N [--seconds S]`: N participants, everyone publishing and receiving everyone,
    // for S (5) simulated seconds: where
    // a participant's memory goes when every m-line carries media (massif).
    if let Some(n) = args
        .iter()
        .position(|a| a == "--meeting")
        .map(|i| &args[i + 1])
    {
        let seconds = (args.iter().position(|a| a == "--seconds"))
            .map_or(5, |i| args[i + 1].parse().expect("--seconds S"));
        meeting(n.parse().expect("--meeting N"), seconds);
        return;
    }
    // `cargo test --all-targets` runs this without `--bench`, in a debug build: a quick smoke
    // run whose numbers mean nothing. `cargo bench` passes `--bench`.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seconds = if quick { 1 } else { 10 };
    let sizes: &[usize] = if quick { &[3, 10] } else { &[3, 10, 30] };
    for &participants in sizes {
        forwarding(participants, seconds);
    }
    publish_negotiation(if quick { 20 } else { 200 });
    connection_setup(if quick { 10 } else { 100 });
}

/// Everyone publishes 50 audio frames/s and 30 video frames/s (3 kB) and receives everyone else.
/// Like browsers, every client puts an audio level on its audio: one talks, the others are room
/// noise, so the active-speaker detection runs as it would in a lesson.
fn forwarding(participants: usize, seconds: u64) {
    let mut sim = Sim::new(participants as u64);
    for i in 0..participants {
        sim.join();
        sim.clients[i].audio_level = Some(if i == 0 { -25 } else { -70 });
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(2)); // connect and settle
    let (busy, to_server, to_clients) = (
        sim.worker_busy,
        sim.datagrams_to_server,
        sim.datagrams_to_clients,
    );
    let frames = sim.worker.stats().frames_forwarded;
    sim.run_for(Duration::from_secs(seconds));
    let busy = (sim.worker_busy - busy).as_secs_f64();
    let datagrams = (sim.datagrams_to_server - to_server) + (sim.datagrams_to_clients - to_clients);
    let frames = sim.worker.stats().frames_forwarded - frames;
    println!(
        "forwarding, {participants} participants, {seconds} s simulated: core busy {:.1} ms \
         = {:.1} % of one core; {:.2} µs per datagram in or out; {:.2} µs per forwarded frame",
        busy * 1e3,
        busy / seconds as f64 * 100.0,
        busy * 1e6 / datagrams as f64,
        busy * 1e6 / frames as f64,
    );
}

/// One publisher, `listeners` who only receive, 5 s of media.
fn lecture(listeners: usize) {
    let mut sim = Sim::new(7);
    sim.join();
    sim.publish(0);
    for _ in 0..listeners {
        sim.join();
    }
    sim.run_for(Duration::from_secs(5));
    let stats = sim.worker.stats();
    println!(
        "lecture of {listeners}: {} packets forwarded",
        stats.packets_forwarded
    );
}

/// `participants` who all publish and receive everyone, `seconds` of media.
fn meeting(participants: usize, seconds: u64) {
    let mut sim = Sim::new(8);
    for i in 0..participants {
        sim.join();
        sim.publish(i);
    }
    sim.run_for(Duration::from_secs(seconds));
    let stats = sim.worker.stats();
    println!(
        "meeting of {participants}: {} packets forwarded",
        stats.packets_forwarded
    );
}

/// A join surge's cost per participant: creating a publish connection (str0m `Rtc`, ICE
/// credentials) and answering the browser's offer, and offering its streams to the others in
/// its room. Participants fill rooms of 30, as classes would.
fn publish_negotiation(count: usize) {
    let mut sim = Sim::new(99);
    let offers: Vec<_> = (0..count).map(|_| common::publish_offer(sim.now)).collect();
    let started = Instant::now();
    for (n, offer) in offers.into_iter().enumerate() {
        if n % 30 == 0 {
            sim.room = format!("room-{n}").into();
        }
        let i = sim.join();
        let participant = sim.clients[i].id;
        let cmd = Command::Publish {
            participant,
            offer,
            tracks: Vec::new(),
        };
        let room = sim.room.clone();
        sim.worker.handle_command(sim.now, &room, cmd);
        while sim.worker.poll_output().is_some() {}
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / count as f64;
    println!("publish negotiation: {per:.0} µs per join (new Rtc + accept_offer), {count} joins");
}

/// Where a join's CPU goes in str0m itself: certificate generation (done once per worker since
/// it is shared), building an `Rtc`, and accepting an offer.
fn connection_setup(count: u32) {
    use str0m::Rtc;
    use str0m::change::SdpOffer;
    let now = Instant::now();
    let provider = str0m::crypto::from_feature_flags();
    let started = Instant::now();
    for _ in 0..count {
        provider
            .dtls_provider
            .generate_certificate()
            .expect("generates");
    }
    let cert_time = started.elapsed() / count;
    let cert = provider
        .dtls_provider
        .generate_certificate()
        .expect("generates");
    let offers: Vec<String> = (0..count).map(|_| common::publish_offer(now)).collect();
    let started = Instant::now();
    let rtcs: Vec<Rtc> = (0..count)
        .map(|_| {
            Rtc::builder()
                .set_ice_lite(true)
                .set_dtls_cert(cert.clone())
                .build(now)
        })
        .collect();
    let build_time = started.elapsed() / count;
    let started = Instant::now();
    for (mut rtc, offer) in rtcs.into_iter().zip(offers) {
        let offer = SdpOffer::from_sdp_string(&offer).expect("valid offer");
        rtc.sdp_api().accept_offer(offer).expect("accepted");
    }
    let accept_time = started.elapsed() / count;
    println!(
        "connection setup in str0m: certificate {cert_time:?}, Rtc build with a shared \
         certificate {build_time:?}, accept_offer {accept_time:?}"
    );
}
