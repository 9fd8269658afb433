//! Aula's selective forwarding unit (SFU): it relays audio and video between the participants
//! of a room without decoding or transcoding.
//!
//! This crate is the media plane only. It knows rooms, participants and tracks by id; it does
//! not know names, roles, secrets or HTTP: signaling decides who may join and tells the SFU
//! through [`Command`]s, and relays the SFU's [`SfuEvent`]s (SDP offers and answers) back.
//!
//! Each participant has two WebRTC connections (str0m `Rtc`s): *publish* (client offers, media
//! flows up) and *subscribe* (the SFU offers, media flows down). With one offerer per
//! connection, renegotiation can never glare. Neither connection ever loses or reorders an
//! m-line (JSEP): streams that end leave their m-line inactive for the next one.
//!
//! # Layout
//! The sans-IO core: no sockets, no threads, no clock (time comes in as `now`):
//! - [`api`]: ids, commands in, events out.
//! - [`worker`]: one worker's rooms and the routing of datagrams to connections.
//! - `ctx`: what a worker's rooms share (config, RNG, output queue, counters, routes).
//! - `room`: publish offers, subscribe slots and offers, forwarding through the gates,
//!   connection health.
//! - `participant`, `conn`: a participant's connections, tracks, slots and gates.
//! - `sdp`: what the core reads from a publish offer before str0m does, and JSEP's rules for
//!   renegotiating one.
//! - `codec`: which of a subscriber's payload types carries a publisher's packets.
//! - `keyframe`: rate limiting of keyframe requests; `limit`: a token bucket (ICE restarts).
//! - `quality`: a participant's connection quality rating.
//! - `rewrite`: the RTP header values each subscriber sees, continuous across sources.
//! - `allocate`, `padding`, `sustained`, `budget`: bandwidth adaptation (the allocator, when
//!   to pad a link, the trough of its recent estimates, the server's egress budget).
//! - `speakers`: active-speaker detection from the audio levels publishers send.
//! - [`stun`]: the ufrag of a STUN message, for routing a new address.
//!
//! The I/O shell, [`shell`]: one UDP port, reader threads that route datagrams to worker
//! threads, and a worker thread per core that drives a [`worker::Worker`].

mod allocate;
pub mod api;
mod budget;
mod codec;
mod conn;
mod ctx;
mod keyframe;
mod limit;
mod padding;
mod participant;
mod quality;
mod rewrite;
mod room;
mod sdp;
pub mod shell;
mod speakers;
pub mod stun;
mod sustained;
pub mod worker;

pub use api::{
    Command, Direction, DownTrackInfo, DropCause, Kind, LayerHint, LayerReport, ParticipantId,
    Quality, RoomId, RoomReport, SfuError, SfuEvent, Source, SubscriberReport, Tile, TrackHint,
    VideoReport,
};
pub use budget::EgressBudget;
pub use shell::{
    BandwidthSnapshot, CLIENT_COMMANDS_QUEUED, EventSink, MetricsSnapshot, SendError, Sfu,
    SfuConfig, SfuHandle, StartError,
};

/// The mids of an offer's audio and video m-lines that send media (for signaling's checks of
/// what a publisher may send; the SFU reads offers itself).
pub fn sending_mids(offer: &str) -> Vec<String> {
    sdp::sections(offer)
        .into_iter()
        .filter(|s| s.sends)
        .map(|s| s.mid)
        .collect()
}
