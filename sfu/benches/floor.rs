//! The floor under the SFU: what this machine's kernel and crypto cost per forwarded packet,
//! whatever the SFU does around them. `cargo bench -p aula-sfu --bench floor`.
//!
//! Every forwarded packet is at least one AEAD seal (SRTP: AES-GCM) and a share of a send
//! system call. This times, on the sending thread's own CPU clock (user + system, so a busy
//! second core does not count), 1,200-byte datagrams sent to a socket on this machine:
//! - `sendto`: one system call per datagram, as the SFU shell sends today;
//! - `sendmmsg`: batches of 32 datagrams (to one destination) per system call;
//! - UDP GSO: 32 datagrams for one destination as one send, cut into 1,200-byte segments
//!   by the kernel (`UDP_SEGMENT`).
//!
//! And AES-GCM (128 and 256 bit, as SRTP negotiates) sealing 1,200 bytes in place. A thread
//! drains the receiving socket with `recvmmsg` and its cost per datagram is printed too.
//!
//! With `--addr IP` the datagrams go to that local address instead of 127.0.0.1 (a real
//! interface's address takes the same path through the kernel as loopback but for the
//! device; traffic to another host is what the school's server does). docs/benchmarks.md
//! records the numbers; every row there is set against them.

use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, Algorithm, LessSafeKey, Nonce, UnboundKey};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::socket::{
    MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg, setsockopt, sockopt,
};

const SIZE: usize = 1200;
const BATCH: usize = 32;

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let count = if quick { 20_000 } else { 400_000 };
    let ip: IpAddr = std::env::args()
        .skip_while(|a| a != "--addr")
        .nth(1)
        .map(|a| a.parse().expect("--addr takes an IPv4 address"))
        .unwrap_or([127, 0, 0, 1].into());
    println!("floor: {count} datagrams of {SIZE} bytes to {ip}, CPU of the sending thread");
    for method in [Method::SendTo, Method::SendMmsg, Method::Gso] {
        let (send, recv) = run(method, ip, count);
        println!(
            "  {:<9} {:>5.2} µs/datagram sent   (receiver: {:.2} µs/datagram, recvmmsg)",
            method.name(),
            send,
            recv
        );
    }
    for (name, alg) in [("AES-128-GCM", &AES_128_GCM), ("AES-256-GCM", &AES_256_GCM)] {
        println!("  {name:<9} {:>5.2} µs/packet sealed", seal(alg, count));
    }
}

#[derive(Clone, Copy)]
enum Method {
    SendTo,
    SendMmsg,
    Gso,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::SendTo => "sendto",
            Method::SendMmsg => "sendmmsg",
            Method::Gso => "GSO",
        }
    }
}

/// Sends `count` datagrams by `method`; returns (µs of sender CPU, µs of receiver CPU) per
/// datagram that arrived.
fn run(method: Method, ip: IpAddr, count: usize) -> (f64, f64) {
    let receiver = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind receiver");
    receiver
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let to = receiver.local_addr().expect("addr");
    let sender = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind sender");
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let drain = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || drain(receiver, &stop, &received))
    };
    let payload = vec![0x5au8; SIZE * BATCH];
    let started = thread_cpu();
    match method {
        Method::SendTo => {
            for _ in 0..count {
                let _ = sender.send_to(&payload[..SIZE], to);
            }
        }
        Method::SendMmsg => {
            let addr = SockaddrIn::from(match to {
                SocketAddr::V4(a) => a,
                SocketAddr::V6(_) => panic!("IPv4 only"),
            });
            let slices: Vec<[IoSlice; 1]> = (0..BATCH)
                .map(|i| [IoSlice::new(&payload[i * SIZE..(i + 1) * SIZE])])
                .collect();
            let addrs = vec![Some(addr); BATCH];
            let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
            for _ in 0..count / BATCH {
                let _ = sendmmsg(
                    sender.as_raw_fd(),
                    &mut headers,
                    &slices,
                    &addrs,
                    [],
                    MsgFlags::empty(),
                );
            }
        }
        Method::Gso => {
            setsockopt(&sender, sockopt::UdpGsoSegment, &(SIZE as i32)).expect("UDP_SEGMENT");
            for _ in 0..count / BATCH {
                let _ = sender.send_to(&payload, to);
            }
        }
    }
    let sent_cpu = thread_cpu() - started;
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let recv_cpu = drain.join().expect("drain thread");
    let arrived = received.load(Ordering::Relaxed).max(1) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / arrived;
    if (arrived as usize) < count * 9 / 10 {
        println!(
            "  ({} of {count} arrived: the receiver could not keep up)",
            arrived as u64
        );
    }
    (per(sent_cpu), per(recv_cpu))
}

/// Receives everything until told to stop; returns its own CPU time.
fn drain(socket: UdpSocket, stop: &AtomicBool, received: &AtomicU64) -> Duration {
    let _ = nix::sys::socket::setsockopt(&socket, sockopt::RcvBuf, &(4 << 20));
    let started = thread_cpu();
    let mut buffers = vec![[0u8; 2048]; BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    while !stop.load(Ordering::Relaxed) {
        let mut slices: Vec<[std::io::IoSliceMut; 1]> = buffers
            .iter_mut()
            .map(|b| [std::io::IoSliceMut::new(&mut b[..])])
            .collect();
        let got = recvmmsg(
            socket.as_raw_fd(),
            &mut headers,
            slices.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        );
        if let Ok(results) = got {
            received.fetch_add(results.count() as u64, Ordering::Relaxed);
        }
    }
    thread_cpu() - started
}

/// µs per in-place AES-GCM seal of a 1,200-byte packet with a 12-byte header as AAD (SRTP).
fn seal(alg: &'static Algorithm, count: usize) -> f64 {
    let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; alg.key_len()]).expect("key"));
    let header = [0x80u8; 12];
    let mut packet = vec![0x33u8; SIZE];
    let started = thread_cpu();
    for i in 0..count {
        let mut nonce = [0u8; 12];
        nonce[4..12].copy_from_slice(&(i as u64).to_be_bytes());
        let nonce = Nonce::assume_unique_for_key(nonce);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(header), &mut packet)
            .expect("seal");
        let _ = std::hint::black_box(tag);
    }
    (thread_cpu() - started).as_secs_f64() * 1e6 / count as f64
}

/// This thread's CPU time so far (user + system).
fn thread_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}
