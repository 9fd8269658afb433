//! The HTTP accept loop: the router on hyper's HTTP/1, with the bounds `axum::serve` leaves
//! out, because every open connection costs memory whether or not it ever sends a request:
//!
//! 1. At most `max_connections` connections (WebSockets included) at once, and at most
//!    `connections_per_address` from one client address (crate::addresses says which count).
//!    Beyond either a connection gets a plain `503` with `Retry-After` and is closed, and is
//!    counted.
//! 2. A request's headers must arrive within [`HEADER_TIMEOUT`] of the connection being ready
//!    for them: a connection that sends nothing, or a request sent a byte at a time, or a
//!    keep-alive connection left idle, is closed then.
//! 3. A response (and so the request body a handler reads) within [`RESPONSE_TIMEOUT`]:
//!    `408` otherwise (the WebSocket upgrade answers at once; the socket then has its own
//!    deadlines, docs/protocol.md).
//!
//! 4. On the HTTPS listener, the TLS handshake too must be done within [`HEADER_TIMEOUT`],
//!    under the same cap: a handshake never finished holds a place no longer than a request
//!    never sent. A handshake that negotiated `acme-tls/1` was the ACME CA's challenge and
//!    is closed after it (the certificate shown was the answer).
//!
//! Shutdown: the loop stops accepting, asks each connection to finish its request and close,
//! and returns once they have (upgraded WebSockets are the sessions' own business then).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::addresses::{Addresses, Hold};
use crate::registry::{Counters, Registry};

/// A browser sends its headers in one packet; a phone on a bad link within a few seconds.
/// Also how long an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body Aula takes is a room's options (a few hundred bytes).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused connection may take to receive its `503`.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long writes may wait for a client that reads (almost) nothing before the connection
/// fails (`Counted`): less than [`STALL_PROGRESS`] in this long. A WebSocket whose page stops
/// reading is dropped sooner, when its queue overflows (docs/protocol.md, "Stalled sockets").
const WRITE_STALL: Duration = Duration::from_secs(30);
const STALL_PROGRESS: usize = 16 * 1024;
/// Writes that have not had to wait for this long: the client reads, the stall is over.
const STALL_CLEARED: Duration = Duration::from_secs(1);

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
    Content-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\nConnection: close\r\n\r\n\
    The server is full. Try again soon.\r\n";

/// What a listener serves: the router, and TLS on the HTTPS listener.
pub struct Listener {
    pub tcp: TcpListener,
    pub app: Router,
    pub tls: Option<TlsAcceptor>,
}

/// Serves `listener` until `stop` turns true, each connection under one of `permits` (shared
/// by the HTTP and HTTPS listeners: `max_connections` counts both).
pub async fn run(
    listener: Listener,
    permits: Arc<Semaphore>,
    addresses: Arc<Addresses>,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let Listener {
        tcp: listener,
        app,
        tls,
    } = listener;
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    // Each connection task holds a receiver; when all are gone, all connections are.
    let (alive_tx, alive_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            Counters::bump(&registry.counters.connections_refused);
            tokio::spawn(refuse(tcp));
            continue;
        };
        let hold = match addresses.handle_connection(peer.ip(), tokio::time::Instant::now()) {
            Ok(hold) => hold,
            Err(refusal) => {
                registry.counters.address_refused(refusal);
                tokio::spawn(refuse(tcp));
                continue;
            }
        };
        let service = make_service(&mut make, peer).await;
        let io = Counted {
            tcp,
            _permit: permit,
            _hold: hold,
            stall: StallClock::default(),
            deadline: None,
        };
        let (stop, alive) = (stop.clone(), alive_rx.clone());
        match tls.clone() {
            None => tokio::spawn(serve_connection(io, service, stop, alive)),
            Some(tls) => tokio::spawn(serve_tls(tls, io, service, stop, alive)),
        };
    }
    drop(alive_rx);
    alive_tx.closed().await;
    Ok(())
}

type ConnService =
    <IntoMakeServiceWithConnectInfo<Router, SocketAddr> as Service<SocketAddr>>::Response;

async fn make_service(
    make: &mut IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    peer: SocketAddr,
) -> ConnService {
    match make.call(peer).await {
        Ok(service) => service,
        Err(never) => match never {},
    }
}

/// The TLS handshake within [`HEADER_TIMEOUT`], then HTTP as on the plain listener.
async fn serve_tls(
    tls: TlsAcceptor,
    io: Counted,
    service: ConnService,
    mut stop: watch::Receiver<bool>,
    alive: watch::Receiver<()>,
) {
    let handshake = tokio::time::timeout(HEADER_TIMEOUT, tls.accept(io));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return tracing::debug!(error = %e, "tls handshake failed"),
            Err(_) => return tracing::debug!("tls handshake timed out"),
        },
        _ = stopped(&mut stop) => return,
    };
    if stream.get_ref().1.alpn_protocol() == Some(crate::tls::ACME_TLS_ALPN) {
        return;
    }
    serve_connection(stream, service, stop, alive).await;
}

async fn serve_connection<I>(
    io: I,
    service: ConnService,
    mut stop: watch::Receiver<bool>,
    _alive: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(service);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopped(&mut stop) => conn.as_mut().graceful_shutdown(),
    }
    // Finishing a request in flight; a stuck one is not waited for long.
    let _ = tokio::time::timeout(RESPONSE_TIMEOUT, conn).await;
}

/// Resolves once the server stops (the watch's guard is not held across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Answers a connection beyond the cap with a plain `503` and closes it.
async fn refuse(mut tcp: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        tcp.write_all(REFUSAL).await?;
        tcp.shutdown().await
    })
    .await;
}

/// A connection and its place under the cap, given back when the connection (or the
/// WebSocket it became) is dropped. Writes that wait for the client and move less than
/// [`STALL_PROGRESS`] in [`WRITE_STALL`] fail: a client that stops reading (a zero receive
/// window), or reads a packet now and then, would otherwise hold its connection, and its
/// place under the cap, for as long as it likes.
struct Counted {
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
    _hold: Option<Hold>,
    /// The write-stall rule, and the timer that wakes a write waiting on it.
    stall: StallClock,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The write-stall rule, sans-IO: writes that wait for the client and move less than
/// [`STALL_PROGRESS`] in [`WRITE_STALL`] fail; writes that have gone through without waiting
/// for over [`STALL_CLEARED`] end a stall (a client reading a little now and then never lets
/// them, a quiet WebSocket that once waited does).
#[derive(Debug, Default)]
struct StallClock {
    /// Since when writes have waited, and what they moved since.
    stalled: Option<(Instant, usize)>,
    /// Since when writes have gone through without waiting (`None` while one waits).
    flowing_since: Option<Instant>,
}

impl StallClock {
    /// A write went through with `n` bytes.
    fn wrote(&mut self, now: Instant, n: usize) {
        if let Some((_, moved)) = &mut self.stalled {
            *moved += n;
        }
        let since = *self.flowing_since.get_or_insert(now);
        if now - since > STALL_CLEARED {
            self.stalled = None;
        }
    }

    /// A write waits: `Err` if the stall has lasted too long with too little moved, else
    /// when to look again.
    fn waits(&mut self, now: Instant) -> Result<Instant, ()> {
        if self.flowing_since.is_some_and(|t| now - t > STALL_CLEARED) {
            self.stalled = None;
        }
        self.flowing_since = None;
        let (since, moved) = self.stalled.get_or_insert((now, 0));
        if now - *since < WRITE_STALL {
            return Ok(*since + WRITE_STALL);
        }
        if *moved < STALL_PROGRESS {
            return Err(());
        }
        // Slow, but moving: a new stall starts.
        self.stalled = Some((now, 0));
        Ok(now + WRITE_STALL)
    }
}

impl Counted {
    /// `poll` is a write's outcome, told to the stall rule; a waiting write that the rule
    /// gives up on fails, and one it does not is woken when it should look again.
    fn watch_stall(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        let now = Instant::now();
        match &poll {
            Poll::Ready(Ok(n)) => {
                self.stall.wrote(now, *n);
                return poll;
            }
            Poll::Ready(Err(_)) => return poll,
            Poll::Pending => {}
        }
        loop {
            let Ok(at) = self.stall.waits(Instant::now()) else {
                let why = "the client read too little for 30 s";
                return Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why)));
            };
            let at = tokio::time::Instant::from_std(at);
            let timer = self
                .deadline
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.watch_stall(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.watch_stall(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_client_that_reads_nothing_or_a_little_now_and_then_is_given_up_after_30_s() {
        let t0 = Instant::now();
        let mut nothing = StallClock::default();
        assert_eq!(nothing.waits(t0), Ok(t0 + WRITE_STALL));
        assert_eq!(nothing.waits(t0 + secs(10.0)), Ok(t0 + WRITE_STALL));
        assert_eq!(nothing.waits(t0 + WRITE_STALL), Err(()));

        // 1 KB every 5 s, the writes waiting again at once: 6 KB in 30 s.
        let mut trickle = StallClock::default();
        let mut now = t0;
        let mut verdict = trickle.waits(now);
        while verdict.is_ok() && now - t0 < secs(60.0) {
            now += secs(5.0);
            trickle.wrote(now, 1024);
            verdict = trickle.waits(now + secs(0.001));
        }
        assert_eq!(verdict, Err(()), "given up");
        assert!(now - t0 <= secs(35.0), "after {:?}", now - t0);
    }

    #[test]
    fn slow_but_moving_writes_and_a_quiet_socket_that_once_waited_go_on() {
        let t0 = Instant::now();
        // 20 KB every 10 s, waiting in between: slow, but 60 KB in 30 s.
        let mut slow = StallClock::default();
        let mut now = t0;
        assert!(slow.waits(now).is_ok());
        for _ in 0..12 {
            now += secs(10.0);
            slow.wrote(now, 20 * 1024);
            assert!(slow.waits(now + secs(0.001)).is_ok(), "at {:?}", now - t0);
        }

        // A WebSocket that waited once, then wrote a few small messages over a minute, and
        // waits once more: a new stall, not the old one's deadline.
        let mut quiet = StallClock::default();
        assert!(quiet.waits(t0).is_ok());
        quiet.wrote(t0 + secs(0.2), 100);
        quiet.wrote(t0 + secs(20.0), 100);
        quiet.wrote(t0 + secs(50.0), 100);
        assert_eq!(
            quiet.waits(t0 + secs(60.0)),
            Ok(t0 + secs(60.0) + WRITE_STALL)
        );
        // Even without a write in between that came late enough to end it.
        let mut blip = StallClock::default();
        assert!(blip.waits(t0).is_ok());
        blip.wrote(t0 + secs(0.2), 100);
        assert_eq!(
            blip.waits(t0 + secs(45.0)),
            Ok(t0 + secs(45.0) + WRITE_STALL)
        );
    }

    #[test]
    fn the_refusal_is_a_whole_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
