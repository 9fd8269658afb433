//! Aula's front door: the web pages, the REST call that creates rooms, the WebSocket signaling
//! of docs/protocol.md, the room registry with its link secrets, and the wiring of all of it
//! to the SFU. The `aula` binary (main.rs) is a thin wrapper around [`start`].
//!
//! It is not the media plane: it never touches RTP. It decides who may join which room in which
//! role, and passes SDP between clients and the SFU.
//!
//! # Layout
//! - [`config`]: the typed settings (TOML, environment, flags).
//! - [`protocol`]: wire message types, parsing, error codes.
//! - `registry`: open rooms by id, and their secrets.
//! - `room`: one task per room owning its membership.
//! - `outbox`: the bounded queue from a room and the SFU to one socket.
//! - `ws`: one WebSocket session.
//! - `budget`: what one session may send, over all message types.
//! - `admission`: who comes in now and who waits in the join queue.
//! - [`staff`]: who may start rooms: staff sign-in, accounts, LDAP.
//! - `addresses`: what one client address may hold and start.
//! - `guard`: which origins may create rooms and open sockets; who may read `/metrics`.
//! - `http`: routes, embedded web client.
//! - `metrics`: `GET /metrics` in Prometheus' text format.
//! - `serve`: the HTTP accept loop with its connection cap and deadlines.
//! - `tls`: HTTPS by itself: the certificate from ACME or from files, kept fresh.

mod addresses;
mod admission;
mod assets;
mod bandwidth;
mod budget;
pub mod config;
mod guard;
mod http;
mod metrics;
mod outbox;
pub mod protocol;
mod registry;
mod room;
mod serve;
pub mod staff;
mod tally;
mod tls;
pub mod turn;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use aula_sfu::{Sfu, SfuConfig, SfuHandle};
use tokio::sync::{Semaphore, watch};

pub use config::Config;
use registry::Registry;

/// What every request handler and session shares.
#[derive(Clone)]
pub(crate) struct AppState {
    config: Arc<Config>,
    registry: Arc<Registry>,
    sfu: SfuHandle,
    admission: Arc<admission::Admission>,
    /// Staff accounts and sessions: who may start rooms.
    staff: Arc<staff::Staff>,
    /// What each client address holds and has started (per-address caps).
    addresses: Arc<addresses::Addresses>,
    /// TURN credentials for every participant, when configured.
    turn: Option<turn::Turn>,
    /// Flips to true once at shutdown; sessions and room tasks watch it.
    stop: watch::Receiver<bool>,
}

/// A started server: where it listens, and how to stop it.
pub struct RunningServer {
    /// Plain HTTP: the whole site, or with TLS on only the redirect to HTTPS (and
    /// `/healthz`, `/metrics`).
    pub http_addr: SocketAddr,
    /// Where HTTPS listens, when TLS is on.
    pub https_addr: Option<SocketAddr>,
    pub media_addrs: Vec<SocketAddr>,
    /// The first-account link's token, when staff must sign in and no account exists yet
    /// (the binary prints the link).
    pub first_account_token: Option<String>,
    stop: watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    https: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    sfu: Sfu,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Media(#[from] aula_sfu::StartError),
    #[error("staff accounts: {0}")]
    Accounts(#[from] staff::accounts::AccountsError),
    #[error("https: {0}")]
    Tls(#[from] tls::TlsError),
}

/// Mbit/s as the SFU counts them: bit/s (a negative or NaN limit is no budget at all).
fn mbps_to_bps(mbps: f64) -> u64 {
    (mbps.max(0.0) * 1e6) as u64
}

/// Binds the HTTP listener and the media port and starts serving.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let sfu_config = SfuConfig {
        port: config.media_port,
        listen_ips: config.media_ips.clone(),
        public_ip: config.public_ip,
        workers: config.media_workers,
        queue_len: config.media_queue,
        max_tracks_per_participant: config.max_tracks_per_participant,
        gso: config.media_gso,
        recv_batch: config.media_recv_batch,
        egress_limit: config.egress_limit_mbps.map(mbps_to_bps),
        room_egress_limit: config.room_egress_limit_mbps.map(mbps_to_bps),
        adaptation: config.bandwidth_adaptation,
    };
    let staff = Arc::new(staff::Staff::new(&config)?);
    let first_account_token = staff.first_account_token();
    let tls = tls::Tls::from_config(&config)?;
    let sfu = Sfu::start(&sfu_config)?;
    let (listener, http_addr) = bind(config.http_addr).await?;
    // TLS and the listener it serves on.
    let https = match tls {
        Some(tls) => Some((tls, bind(config.https_addr).await?)),
        None => None,
    };
    let (stop, stop_rx) = watch::channel(false);
    let admission = admission::Admission::new(admission::Limits {
        max_participants: config.max_participants,
        join_rate: config.join_rate,
        queue_limit: config.queue_limit,
        queue_per_address: config.queue_per_address,
    });
    let turn = turn::Turn::new(
        &config.turn_urls,
        config.turn_secret.as_deref(),
        std::time::Duration::from_secs(config.turn_ttl_secs),
    );
    let config_caps = config.address_caps();
    let state = AppState {
        turn,
        staff,
        registry: Arc::new(Registry::new(config.max_rooms)),
        config: Arc::new(config),
        sfu: sfu.handle(),
        admission: admission.clone(),
        addresses: addresses::Addresses::new(config_caps),
        stop: stop_rx.clone(),
    };
    tokio::spawn(admission.run(state.sfu.clone(), state.registry.clone(), stop_rx.clone()));
    let registry = state.registry.clone();
    let addresses = state.addresses.clone();
    let permits = Arc::new(Semaphore::new(state.config.max_connections));
    let serve = |listener| {
        let (permits, addresses) = (permits.clone(), addresses.clone());
        let run = serve::run(
            listener,
            permits,
            addresses,
            registry.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(run)
    };
    let (https_addr, https_task, plain_app) = match https {
        Some((tls, (tcp, addr))) => {
            let app = http::over_tls(http::router(state.clone()));
            let acceptor = Some(tls.acceptor.clone());
            let task = serve(serve::Listener {
                tcp,
                app,
                tls: acceptor,
            });
            tokio::spawn(tls.run(stop_rx.clone()));
            let redirect = http::redirect_router(state, addr.port());
            (Some(addr), Some(task), redirect)
        }
        None => (None, None, http::router(state)),
    };
    let http = serve(serve::Listener {
        tcp: listener,
        app: plain_app,
        tls: None,
    });
    let media_addrs = sfu.handle().media_addrs().to_vec();
    tracing::info!(%http_addr, ?https_addr, ?media_addrs, "aula is serving");
    Ok(RunningServer {
        http_addr,
        https_addr,
        media_addrs,
        first_account_token,
        stop,
        http,
        https: https_task,
        sfu,
    })
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let error = |source| StartError::Http { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

impl RunningServer {
    /// The media side's handle: for tests that talk to the SFU directly (a fault injected
    /// into a room, with aula-sfu's `fault-injection` feature).
    #[doc(hidden)]
    pub fn sfu(&self) -> aula_sfu::SfuHandle {
        self.sfu.handle()
    }

    /// Closes every socket and room, then stops the media threads.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in std::iter::once(self.http).chain(self.https) {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "http task ended badly");
            }
        }
        let sfu = self.sfu;
        let _ = tokio::task::spawn_blocking(move || sfu.shutdown()).await;
    }
}
