//! A socket reader thread: receives datagrams and hands each to the worker that owns its
//! connection. It never blocks on a worker: a full queue means the datagram is dropped and
//! counted (media is better late-never than late).

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};

use super::metrics::Metrics;
use super::{Datagram, MediaSocket, RouteMaps};
use crate::stun;

/// Large enough for any datagram a WebRTC peer sends (MTU-sized); bigger ones are cut and
/// then rejected by the parser.
pub(crate) const RECV_BUFFER: usize = 2048;

pub(crate) struct Reader {
    pub sockets: Arc<[MediaSocket]>,
    pub index: usize,
    pub workers: Arc<[Sender<Datagram>]>,
    pub routes: Arc<RouteMaps>,
    pub metrics: Arc<Metrics>,
    pub stop: Arc<AtomicBool>,
    /// Receive with `recvmmsg`, up to 32 datagrams a call.
    pub batch: bool,
}

impl Reader {
    pub fn run(self) {
        if self.batch {
            return self.run_batched();
        }
        let socket = &self.sockets[self.index];
        let mut buf = [0u8; RECV_BUFFER];
        while !self.stop.load(Ordering::Relaxed) {
            let (n, source) = match socket.socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => {
                    // ICMP port unreachable from a vanished peer shows up here on Linux.
                    tracing::trace!(error = %e, "udp receive error");
                    continue;
                }
            };
            if !self.hand_over(&buf[..n], source, Instant::now()) {
                return;
            }
        }
    }

    /// The same loop over `recvmmsg`: one system call for every datagram that is queued.
    fn run_batched(self) {
        use super::batch::{RECV_BATCH, recv_batch};
        let socket = &self.sockets[self.index];
        let mut buffers = Box::new([[0u8; RECV_BUFFER]; RECV_BATCH]);
        let mut headers = nix::sys::socket::MultiHeaders::preallocate(RECV_BATCH, None);
        while !self.stop.load(Ordering::Relaxed) {
            let received = match recv_batch(&socket.socket, &mut buffers, &mut headers) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => {
                    tracing::trace!(error = %e, "udp receive error");
                    continue;
                }
            };
            let now = Instant::now();
            for (i, (source, n)) in received.into_iter().enumerate() {
                if !self.hand_over(&buffers[i][..n], source, now) {
                    return;
                }
            }
        }
    }

    /// Routes one datagram to its worker; false once the workers are gone.
    fn hand_over(&self, data: &[u8], source: std::net::SocketAddr, received: Instant) -> bool {
        self.metrics.count_in(data.len());
        let Some(worker) = self.route(source, data) else {
            self.metrics.count_unroutable();
            return true;
        };
        let datagram = Datagram {
            received,
            source,
            destination: self.sockets[self.index].advertised,
            data: data.to_vec(),
        };
        match self.workers[worker].try_send(datagram) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.metrics.count_queue_full();
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn route(&self, source: std::net::SocketAddr, data: &[u8]) -> Option<usize> {
        if !stun::is_stun(data) {
            return self.routes.by_addr.get(&source).map(|w| *w);
        }
        match stun::local_ufrag(data) {
            Some(ufrag) => self.routes.by_ufrag.get(ufrag).map(|w| *w),
            // STUN without a username (a binding response, say) follows the address.
            None => self.routes.by_addr.get(&source).map(|w| *w),
        }
    }
}
