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
use std::time::Duration;

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
            stalled: None,
            last_pending: None,
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
    /// Writes have waited for the client since then, and moved this much.
    stalled: Option<Stall>,
    /// When a write last had to wait.
    last_pending: Option<std::time::Instant>,
}

struct Stall {
    moved: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Counted {
    /// `poll` is a write's outcome. Waiting starts a stall, or fails the write once the stall
    /// has lasted [`WRITE_STALL`] with less than [`STALL_PROGRESS`] moved (with more, a new
    /// one starts). Bytes written count for the stall; writes that go through without
    /// waiting for a second end it.
    fn watch_stall(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        let now = std::time::Instant::now();
        match &poll {
            Poll::Ready(Ok(n)) => {
                if let Some(stall) = &mut self.stalled {
                    stall.moved += n;
                }
                let flowing = self.last_pending.is_none_or(|t| now - t > STALL_CLEARED);
                if flowing {
                    self.stalled = None;
                }
                return poll;
            }
            Poll::Ready(Err(_)) => return poll,
            Poll::Pending => self.last_pending = Some(now),
        }
        let stall = self.stalled.get_or_insert_with(|| Stall {
            moved: 0,
            deadline: Box::pin(tokio::time::sleep(WRITE_STALL)),
        });
        while stall.deadline.as_mut().poll(cx).is_ready() {
            if stall.moved < STALL_PROGRESS {
                let why = "the client read too little for 30 s";
                return Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why)));
            }
            stall.moved = 0;
            let next = tokio::time::Instant::now() + WRITE_STALL;
            stall.deadline.as_mut().reset(next);
        }
        Poll::Pending
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

    #[test]
    fn the_refusal_is_a_whole_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
