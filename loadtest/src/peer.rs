//! One of a bot's two WebRTC connections: a UDP socket and the str0m `Rtc` that uses it.
//!
//! The socket is bound when the bot starts; the `Rtc` comes later (after `joined` for publish,
//! with the first `subscribe_offer` for subscribe), so datagrams that arrive before it are
//! dropped. Each connection has its own socket, as in a browser, so the server never sees one
//! client address for two connections.
//!
//! The run-loop contract of str0m is kept here: every `handle_*` is a mutation, and the caller
//! drains [`Peer::poll_event`] until it returns `None` before the next one.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

use crate::protocol::Pc;

/// Kernel receive buffer asked for each socket (Linux caps it at net.core.rmem_max). A
/// subscriber in a class receives about 3 Mbit/s; the default 208 KiB holds half a second of
/// that, and bots share their machine's cores with the server (and, on the reference machine,
/// with other work), so a loadtest descheduled for longer lost datagrams in its own kernel
/// buffers (`RcvbufErrors`), which the report then showed as the server's loss and gaps. 4 MiB
/// holds several seconds, kernel overhead per datagram included.
const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// A UDP socket with the `Rtc` that owns its traffic.
pub(crate) struct Peer {
    pc: Pc,
    socket: UdpSocket,
    local: SocketAddr,
    rtc: Option<Rtc>,
    /// When the `Rtc` wants `Input::Timeout` next; refreshed by each drain.
    timeout: Option<Instant>,
    /// Datagrams dropped because the socket would block; the media path never waits.
    send_drops: u64,
    /// Datagrams received while an `Rtc` was there to take them.
    received: u64,
    /// Of those, RTP packets ([`is_rtp`]).
    rtp_received: u64,
    /// Their bytes (UDP payloads).
    bytes_received: u64,
}

impl Peer {
    /// Binds a socket on `ip`, any port, with a receive buffer of [`RECV_BUFFER`].
    pub async fn bind(pc: Pc, ip: IpAddr) -> io::Result<Peer> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        // Best effort: a smaller buffer works too, with drops when the loadtest stalls.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
        // Arrival times from the kernel (see `recv`); without them, the time of reading.
        let _ = setsockopt(&socket, sockopt::ReceiveTimestampns, &true);
        let local = socket.local_addr()?;
        Ok(Peer {
            pc,
            socket,
            local,
            rtc: None,
            timeout: None,
            send_drops: 0,
            received: 0,
            rtp_received: 0,
            bytes_received: 0,
        })
    }

    /// A fresh `Rtc` for a bot: only Opus and VP8, the codecs the synthetic sources imitate,
    /// and the socket's address as its one host candidate.
    pub fn new_rtc(&self, now: Instant) -> Result<Rtc, RtcError> {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        rtc.add_local_candidate(self.candidate()?);
        Ok(rtc)
    }

    /// The host candidate of the socket.
    pub fn candidate(&self) -> Result<Candidate, RtcError> {
        Ok(Candidate::host(self.local, "udp")?)
    }

    pub fn rtc(&mut self) -> Option<&mut Rtc> {
        self.rtc.as_mut()
    }

    pub fn set_rtc(&mut self, rtc: Rtc) {
        self.rtc = Some(rtc);
    }

    /// When the `Rtc` next needs a timeout input; `None` without an `Rtc`.
    pub fn timeout(&self) -> Option<Instant> {
        self.timeout
    }

    pub fn send_drops(&self) -> u64 {
        self.send_drops
    }

    /// Datagrams received and handed to the `Rtc`, so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Of [`Peer::received`], the RTP packets.
    pub fn rtp_received(&self) -> u64 {
        self.rtp_received
    }

    /// The bytes of [`Peer::received`].
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Waits for a datagram; returns its size, its source and when the kernel received it.
    /// Cancel-safe, so it can sit in a `select!`.
    ///
    /// The arrival time is the kernel's (`SO_TIMESTAMPNS`), not when this task got to run: a
    /// browser reads its socket on a network thread of its own, so the arrival times in its
    /// transport-wide feedback, which the server's estimate reads, carry the network's delays
    /// and little of its own. Two hundred bots sharing two cores with the server would
    /// otherwise add their own scheduling delay to every arrival, which the server's
    /// congestion control reads as a queue building on the path.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
        use std::os::fd::AsRawFd;
        let fd = self.socket.as_raw_fd();
        self.socket
            .async_io(tokio::io::Interest::READABLE, || {
                let mut iov = [io::IoSliceMut::new(&mut *buf)];
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let msg =
                    recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
                        .map_err(io::Error::from)?;
                let now = Instant::now();
                let mut arrival = now;
                for c in msg.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        arrival = kernel_arrival(now, SystemTime::now(), ts.into());
                    }
                }
                let no_source = || io::Error::other("datagram without a source address");
                let from = msg.address.ok_or_else(no_source)?;
                let source = match from.as_sockaddr_in() {
                    Some(v4) => SocketAddr::V4((*v4).into()),
                    None => SocketAddr::V6((*from.as_sockaddr_in6().ok_or_else(no_source)?).into()),
                };
                Ok((msg.bytes, source, arrival))
            })
            .await
    }

    /// Feeds a datagram that arrived at `arrival` to the `Rtc`, and moves its clock on to
    /// `now`. Datagrams str0m cannot classify are dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        arrival: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), RtcError> {
        let Some(rtc) = &mut self.rtc else {
            return Ok(());
        };
        self.received += 1;
        self.rtp_received += u64::from(is_rtp(data));
        self.bytes_received += data.len() as u64;
        let Ok(contents) = data.try_into() else {
            tracing::trace!(pc = ?self.pc, %source, "dropped unclassifiable datagram");
            return Ok(());
        };
        let receive = Receive {
            proto: Protocol::Udp,
            source,
            destination: self.local,
            contents,
        };
        rtc.handle_input(Input::Receive(arrival, receive))?;
        // str0m moves its clock on receive only to the arrival time, and only forwards; what
        // the datagram makes due (transport-wide feedback, a NACK) must go out now, as it
        // did when the arrival time was the time of reading.
        if now > arrival {
            rtc.handle_input(Input::Timeout(now))?;
        }
        Ok(())
    }

    /// Moves the `Rtc`'s clock to `now` if its timeout has come.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), RtcError> {
        match (&mut self.rtc, self.timeout) {
            (Some(rtc), Some(t)) if t <= now => rtc.handle_input(Input::Timeout(now)),
            _ => Ok(()),
        }
    }

    /// Drains the `Rtc`: sends what it transmits, returns the next event, or `None` once it
    /// asks for a timeout (which is then in [`Peer::timeout`]).
    pub fn poll_event(&mut self) -> Result<Option<Event>, RtcError> {
        let Some(rtc) = &mut self.rtc else {
            return Ok(None);
        };
        loop {
            match rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.timeout = Some(t);
                    return Ok(None);
                }
                Output::Transmit(t) => {
                    if let Err(e) = self.socket.try_send_to(&t.contents, t.destination) {
                        self.send_drops += 1;
                        tracing::trace!(pc = ?self.pc, error = %e, "udp send dropped");
                    }
                }
                Output::Event(e) => return Ok(Some(e)),
            }
        }
    }

    /// Stops the `Rtc`: no more output, no timeouts. The socket stays until the peer drops.
    pub fn close(&mut self) {
        if let Some(rtc) = &mut self.rtc {
            rtc.disconnect();
        }
        self.rtc = None;
        self.timeout = None;
    }
}

/// The `Instant` at which the kernel stamped a datagram `stamp` (wall-clock time), given the
/// same moment on both clocks (`now`, `wall`). A stamp in the future (the wall clock stepped
/// back) or absurdly old counts as arriving now.
fn kernel_arrival(now: Instant, wall: SystemTime, stamp: Duration) -> Instant {
    let Ok(wall) = wall.duration_since(UNIX_EPOCH) else {
        return now;
    };
    match wall.checked_sub(stamp) {
        Some(age) if age <= MAX_ARRIVAL_AGE => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

/// A kernel timestamp older than this is taken for a clock step, not a datagram's age.
const MAX_ARRIVAL_AGE: Duration = Duration::from_secs(5);

/// Whether a datagram is RTP, by RFC 7983's demultiplexing: a first byte of 128..=191 is RTP
/// or RTCP, and RTCP's packet types (200..=206, and the rest up to 223 that RFC 5761 keeps
/// free) fill the second byte where RTP has its marker bit and payload type.
fn is_rtp(data: &[u8]) -> bool {
    match data {
        [first, second, ..] => (128..=191).contains(first) && !(192..=223).contains(second),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_ARRIVAL_AGE, Peer, is_rtp, kernel_arrival};
    use crate::protocol::Pc;
    use std::time::{Duration, Instant, SystemTime};

    #[test]
    fn a_kernel_stamp_becomes_the_instant_it_stands_for() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let since_epoch = wall.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let ms = Duration::from_millis;
        assert_eq!(kernel_arrival(now, wall, since_epoch - ms(7)), now - ms(7));
        assert_eq!(kernel_arrival(now, wall, since_epoch), now);
        // The wall clock stepped: arrival counts as now.
        assert_eq!(kernel_arrival(now, wall, since_epoch + ms(3)), now);
        let stale = since_epoch - MAX_ARRIVAL_AGE - ms(1);
        assert_eq!(kernel_arrival(now, wall, stale), now);
    }

    /// A datagram read late carries the time the kernel received it, not the time of reading.
    #[tokio::test]
    async fn a_datagram_read_late_keeps_its_arrival_time() {
        let ip = "127.0.0.1".parse().unwrap();
        let peer = Peer::bind(Pc::Subscribe, ip).await.unwrap();
        let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 64];
        // The kernel turns receive stamps on for the first socket that asks a moment later;
        // until then a datagram is stamped when read.
        sender.send_to(b"warm-up", peer.local).await.unwrap();
        peer.recv(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        sender.send_to(b"hello", peer.local).await.unwrap();
        let sent = Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (n, source, arrival) = peer.recv(&mut buf).await.unwrap();
        let read = Instant::now();
        assert_eq!(
            (&buf[..n], source),
            (&b"hello"[..], sender.local_addr().unwrap())
        );
        assert!(
            read - arrival >= Duration::from_millis(45),
            "{:?}",
            read - arrival
        );
        assert!(
            arrival <= sent + Duration::from_millis(5),
            "{:?}",
            arrival - sent
        );
    }

    #[test]
    fn rtp_is_told_from_rtcp_stun_and_dtls() {
        assert!(is_rtp(&[0x80, 96, 0, 1]), "VP8, no marker");
        assert!(
            is_rtp(&[0x90, 0x80 | 111]),
            "Opus with marker and extension"
        );
        assert!(!is_rtp(&[0x81, 200]), "sender report");
        assert!(!is_rtp(&[0x81, 206]), "PLI");
        assert!(!is_rtp(&[0x00, 0x01]), "STUN binding request");
        assert!(!is_rtp(&[22, 254]), "DTLS handshake");
        assert!(!is_rtp(&[0x80]));
    }
}
