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
use std::time::Instant;

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

    /// Waits for a datagram. Cancel-safe, so it can sit in a `select!`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    /// Feeds a received datagram to the `Rtc`. Datagrams str0m cannot classify are dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
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
        rtc.handle_input(Input::Receive(now, receive))
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
    use super::is_rtp;

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
