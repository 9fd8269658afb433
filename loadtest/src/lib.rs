//! Bots for Aula: participants that speak docs/protocol.md over real WebRTC, for load runs and
//! for integration tests that need no browser.
//!
//! A bot is a client, not a browser: it joins through the WebSocket signaling, publishes on its
//! own str0m `Rtc` (full ICE, controlling, against the server's ICE-lite) and subscribes on a
//! second one, all over UDP. It has no codecs and renders nothing. What it sends are synthetic
//! frames shaped like Opus and VP8 (real VP8 keyframe headers, so the SFU sees keyframes) that
//! carry a send stamp, so a receiver on the same machine measures one-way delay and gaps per
//! remote participant, and which simulcast layer it got. A camera is one encoding or, as the
//! web client sends it, three simulcast layers; a bot can lay out what it receives as a page
//! does and tell the server with `view` ([`view::ViewPolicy`]), so thumbnails get the small
//! layer, the stage the large one, and hidden tiles nothing. Audio frames carry an audio level (the `ssrc-audio-level` extension), so
//! the server's active-speaker detection sees them talk. A bot joins with the host or the
//! participant link, waits in the lobby if the room has one, and, once joined, asks with
//! `media_state` for what it publishes to be forwarded (class participants join muted), and, as
//! a page does, switches off the camera layers the server says nobody takes (`encodings`) and
//! notes the videos the server pauses for want of bandwidth (`bandwidth`). It can
//! leave and come back ([`Churn`]): resume after a dropped socket with its media connections
//! kept, or rejoin as a new participant. [`scenario`] runs many bots in the shapes a school
//! uses (class, lecture, meeting, surge, and churn: people coming and going; impair: one
//! student behind a shaped link; budget: rooms asking for more than the server may send) in
//! rooms without a lobby, and [`report`] summarizes what they and the server did. A bot can
//! reach the server through a [`relay`] that shapes its downlink like a slow line. Tests drive single bots
//! through their [`BotHandle`] (any client message, hands, chat, the last message of a type,
//! churn) and read what they saw in [`BotStats`] (speakers, lobby, own state, churns, gaps).
//!
//! ```no_run
//! # async fn demo() -> Result<(), aula_loadtest::http::HttpError> {
//! use std::time::Duration;
//! use aula_loadtest::{BotConfig, http};
//!
//! let server = http::ServerUrl::parse("http://127.0.0.1:8080")?;
//! let options = http::RoomOptions::no_lobby(http::RoomKind::Class).title("7b Mathe");
//! let room = http::create_room(&server, &options, Duration::from_secs(5)).await?;
//! let secret = room.host_secret().unwrap_or_default();
//! let bot = aula_loadtest::spawn(BotConfig::new(&server.ws_url(), &room.id, secret, "Bot"));
//! tokio::time::sleep(Duration::from_secs(5)).await;
//! let report = bot.leave().await;
//! println!("{:?}", report.stats.remotes);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `bot`: [`spawn`] a bot from a [`BotConfig`]; its [`BotHandle`] and [`BotReport`].
//! - `driver`: the task behind a bot (one per bot): join, publish, subscribe, the run loop,
//!   resume and rejoin.
//! - `peer`: one WebRTC connection, a UDP socket and its str0m `Rtc`, drained as str0m asks.
//! - `publish`: the publish offer (simulcast or not) and the frame clock that writes
//!   synthetic media.
//! - [`media`]: the synthetic frame generators, simulcast layers and the send stamp (pure).
//! - [`view`]: the page layouts a bot tells the server (`view`) and the layer a tile calls
//!   for (pure).
//! - [`stats`]: what a bot measured.
//! - [`gaps`]: silences per received stream, and which churn a silence overlapped (pure).
//! - [`protocol`]: the client's view of the wire messages.
//! - `signal`: the WebSocket that carries them.
//! - `signaling`: the driver's one interface to either server, Aula's protocol or Janus's.
//! - `janus`: bots against Janus 1.1.2's VideoRoom plugin, for the side-by-side comparison.
//! - [`compare`]: one scenario against Aula, then Janus, and the ratio table.
//! - [`morning`]: five classes, with and without bandwidth adaptation, side by side.
//! - [`link`]: a shaped link (token bucket, drop-tail queue, delay) and its log (pure).
//! - [`relay`]: the UDP relay that puts a bot behind a [`link::Link`].
//! - [`impair`], [`budget`]: those scenarios' reports and figures.
//! - [`plot`]: SVG line plots for the figures (pure).
//! - [`peers`]: starting the peer SFU the comparison measures beside Aula (Janus).
//! - [`target`]: which server ([`target::Target`]) and how to make a room on it.
//! - [`http`]: `POST /api/rooms` with its options (kind, lobby) and server URLs.
//! - [`scenario`]: scenario specs, their bot plans, and [`scenario::run`].
//! - [`surge`]: the 8 o'clock surge at school scale: page loads, the join queue, stays, and
//!   the loss of classes already running; its report and plot.
//! - [`churn`]: the churn scenario's schedule of leavings and returns, and its report section.
//! - [`report`]: the summary of a run and its verdict; [`table`] prints it.
//! - [`server`]: the server under test: `/metrics`, and starting an `aula` binary.
//! - [`procstat`]: CPU and RSS of a process from `/proc`.

mod bot;
pub mod budget;
pub mod churn;
pub mod compare;
mod driver;
pub mod gaps;
pub mod http;
pub mod impair;
mod janus;
pub mod link;
pub mod media;
pub mod morning;
mod peer;
pub mod peers;
pub mod plot;
pub mod procstat;
pub mod protocol;
mod publish;
pub mod relay;
pub mod report;
pub mod scenario;
pub mod server;
mod signal;
mod signaling;
pub mod stats;
pub mod surge;
pub mod table;
pub mod target;
pub mod view;

pub use bot::{BotConfig, BotError, BotHandle, BotReport, Churn, spawn};
pub use stats::BotStats;

/// This machine's first global IPv4 address (`ip -4 -o addr show scope global`), for tests
/// that need traffic the server counts as coming from the network, not from loopback; `None`
/// on a machine with loopback alone.
pub fn lan_ipv4() -> Option<std::net::IpAddr> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            fields.find(|f| *f == "inet")?;
            fields.next()?.split('/').next()?.parse().ok()
        })
}
