//! A simulated class for testing the SFU core: one core [`Worker`] and any number of str0m
//! clients, connected by an in-memory network and moved forward in simulated time. Real ICE,
//! DTLS, SRTP and RTP, no sockets and no sleeps: a minute of lesson runs in well under a
//! second, and a seed replays it exactly.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aula_sfu::worker::{CoreConfig, Output, Worker};
use aula_sfu::{Command, Kind, ParticipantId, Quality, RoomId, SfuEvent, Source, TrackHint};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, RtpWrite, Ssrc};
use str0m::{Candidate, Event, Input, Output as RtcOutput, Rtc};

pub const SERVER: &str = "127.0.0.1:10000";
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// Bytes of an Opus frame of 20 ms: 48 kbit/s, 76 on the wire with the headers. Not less: a
/// subscriber of one stream under 50 kbit/s (RTP) gets str0m's automatic padding on top, which
/// a link under about 120 kbit/s cannot carry beside it (docs/architecture.md).
const AUDIO_PAYLOAD: usize = 120;
const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(10);

/// A frame one client received on its subscribe connection.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: ParticipantId,
    pub kind: Kind,
    pub source: Source,
    pub mid: Mid,
    pub rtp_time: u64,
    pub keyframe: bool,
    pub codec: Codec,
    pub contiguous: bool,
    pub first_seq: u64,
    pub last_seq: u64,
    pub at: Instant,
    /// The audio level header extension, as the SFU passed it on.
    pub audio_level: Option<i8>,
    /// Video: the second byte of the frame, where a simulcast client writes the layer index
    /// it was sent on (0x55 otherwise).
    pub tag: u8,
    /// VP8's picture id as the subscriber's depacketizer read it.
    pub picture_id: Option<u64>,
    pub size: usize,
    /// H.264: the frame carries a sequence parameter set (what a decoder needs before an
    /// IDR it has no set for).
    pub sps: bool,
}

/// A `Speakers` event as one client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakersSeen {
    pub at: Instant,
    pub speaking: Vec<ParticipantId>,
    pub dominant: Option<ParticipantId>,
}

/// One side of a client: a str0m `Rtc` on its own address.
struct Side {
    rtc: Rtc,
    addr: SocketAddr,
    next_timeout: Instant,
}

/// A `Bandwidth` event: when, the videos paused, whether the own link limits.
pub type BandwidthSeen = (Instant, Vec<(ParticipantId, Source)>, bool);
/// An `Encodings` event: when, the source, (rid, active) per encoding.
pub type EncodingsSeen = (Instant, Source, Vec<(String, bool)>);

/// Caps the SFU set on a client's encoding, with when (`None`: lifted).
pub type CapsSeen = Vec<(Instant, Option<u64>)>;

pub struct Client {
    pub id: ParticipantId,
    index: u16,
    up: Option<Side>,
    up_pending: Option<SdpPendingOffer>,
    /// The publish offer that waits for its answer, to send again after a lost socket.
    up_offer: Option<Command>,
    /// The publish connection's m-lines: (mid, kind, source, sending).
    up_mids: Vec<(Mid, MediaKind, Source, bool)>,
    pub up_connected: bool,
    /// While true, the client's signaling is down: SFU events for it are lost.
    pub offline: bool,
    /// While true, the client answers subscribe offers late, as a busy page does: its answers
    /// wait in `held` until [`Sim::release_answers`].
    pub slow_answers: bool,
    held: Vec<Command>,
    /// The mids of the subscribe connection's m-lines, in order, as the last offer had them:
    /// a later offer must repeat them in the same order (JSEP).
    down_mids: Vec<String>,
    generation: u16,
    down: Option<Side>,
    pub down_tracks: HashMap<Mid, (ParticipantId, Kind, Source)>,
    pub offers: usize,
    /// Subscribe offers that came with `reset` (a new subscribe connection).
    pub resets: usize,
    /// Quality ratings the SFU announced for this client.
    pub quality: Vec<(Instant, Quality)>,
    /// Streams the SFU said it cannot forward to this client: (publisher, source, reason,
    /// codec).
    pub unavailable: Vec<(ParticipantId, Source, String, String)>,
    /// The client's subscribe connection negotiates VP8 and Opus only (a browser without
    /// H.264, such as Firefox without its OpenH264 plugin).
    pub vp8_only: bool,
    pub errors: Vec<String>,
    pub received: Vec<Received>,
    next_audio: Instant,
    next_video: Instant,
    next_keyframe: Instant,
    want_keyframe: bool,
    /// Simulcast: a keyframe is owed on each layer, since then.
    keyframe_owed: [Option<Instant>; 3],
    /// Simulcast: how long after it is asked for (a PLI, or an encoding switched back on) a
    /// layer's keyframe goes out, as a browser's comes a round trip and an encoder's frame or
    /// more later; zero: with the next frame.
    pub keyframe_latency: Duration,
    /// Publish the camera as three simulcast layers `q`, `h`, `f` (set before `publish`).
    pub simulcast: bool,
    /// Simulcast layers the client sends (a layer off is paused, as a browser does with
    /// `active: false`).
    pub layers_on: [bool; 3],
    audio_time: u64,
    video_time: u64,
    pub keyframes_sent: usize,
    /// When keyframe requests (PLI/FIR) reached this client's publish connection.
    pub keyframe_requests: Vec<Instant>,
    /// The same, with the simulcast layer each asked for (`None`: the m-line's only one).
    pub keyframe_request_layers: Vec<(Instant, Option<usize>)>,
    /// What this client's camera encodes: VP8, or H.264 as Safari prefers.
    pub video_codec: Codec,
    /// How often it sends an audio and a video frame (tests of many participants send fewer).
    pub audio_interval: Duration,
    pub video_interval: Duration,
    /// The size of a (non-simulcast) video frame, bytes.
    pub video_bytes: usize,
    /// The size of a frame of each simulcast layer, bytes (a scene that moves less sends less).
    pub layer_bytes: [usize; 3],
    /// Fractions of this client's datagrams its link drops, towards the server and from it
    /// (1.0: the network is gone).
    pub uplink_loss: f64,
    pub downlink_loss: f64,
    /// The audio level (dBov, -127..=0) this client puts on its audio frames, as a browser
    /// does with the ssrc-audio-level extension; `None` sends none.
    pub audio_level: Option<i8>,
    pub speakers: Vec<SpeakersSeen>,
    /// Rounds of junk sent (`Sim::inject_junk`), so each round's packets are new ones.
    junk_rounds: u32,
    /// What the SFU said of this client's bandwidth: (when, paused videos, own link limits).
    pub bandwidth: Vec<BandwidthSeen>,
    /// What the SFU asked of this client's encodings: (when, source, (rid, active)).
    pub encodings: Vec<EncodingsSeen>,
    /// The caps the SFU set on this client's screen share, with when (`None`: lifted). The
    /// client honours them as a browser does for screen content: same frames, fewer of them.
    pub screen_caps: CapsSeen,
    /// Bits the screen share may still send under its cap.
    screen_credit: f64,
    /// What the shared screen's content needs at most (bit/s), cap or not: a slide left up
    /// sends far less than a cap allows. `None`: every frame.
    pub screen_content: Option<u64>,
    /// The caps the SFU set on this client's camera's lowest layer, with when (`None`:
    /// lifted). The client honours them as an encoder does: the same frames, smaller.
    pub camera_caps: CapsSeen,
    /// Ignore `encodings` (a page that does not switch layers off when told).
    pub ignores_encodings: bool,
    /// Simulcast layers its page does not send whatever it is told, as a browser stops an
    /// encoding by itself when its uplink is too thin for it.
    pub layers_withheld: [bool; 3],
    /// How long its page takes to carry out `encodings` (a `setParameters` and the
    /// encoder's restart); meanwhile they wait here.
    pub encodings_latency: Duration,
    pending_encodings: VecDeque<(Instant, Vec<(String, bool)>)>,
    /// Ignore caps on the camera (a page that does not lower its encoding when told).
    pub ignores_caps: bool,
    /// The capacity of this client's downlink (bit/s; `None`: unlimited), its bottleneck
    /// queue (drop-tail beyond `downlink_queue` of delay) and its one-way delay. Datagrams in
    /// flight wait in `in_flight` until their arrival time.
    pub downlink_rate: Option<u64>,
    pub downlink_queue: Duration,
    pub downlink_delay: Duration,
    downlink_busy_until: Option<Instant>,
    in_flight: VecDeque<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    /// Datagrams the bottleneck queue dropped, and bytes that arrived (with the time).
    pub downlink_dropped: usize,
    pub downlink_arrived: Vec<(Instant, usize)>,
    /// Datagrams offered to the shaped downlink (dropped or not), with when.
    pub downlink_offered: Vec<(Instant, usize)>,
    /// Set (before the camera starts), the camera's packets are written one by one as RTP by
    /// the client itself, so a test can make them absurd.
    pub raw_camera: Option<RawCamera>,
    /// Set (before it publishes), its publish connection offers only the mid header
    /// extension: its packets' headers are as short as a client can make them.
    pub bare_header: bool,
    /// Datagrams the server sent this client (both connections), delivered or not.
    pub datagrams_in: u64,
}

/// A camera that writes its own RTP: one packet per frame (a VP8 payload descriptor with a
/// picture id, and the frame), from numbers a test can bend.
#[derive(Debug, Clone)]
pub struct RawCamera {
    /// Added to the sequence number from one packet to the next (1: a sane stream; the
    /// extended number, so what goes on the wire and the SRTP index stay those of a sender
    /// that really numbers its packets so).
    pub seq_step: i64,
    /// Added to the RTP timestamp from one frame to the next (negative: time runs backwards).
    pub ts_step: i32,
    /// Packets with nothing in them after each frame, each with its own sequence number, as
    /// a browser's padding looks once unpadded.
    pub empty_per_frame: usize,
    /// Each frame's payload this many bytes (zeros after the descriptor), over what a
    /// browser sends; `None`: the usual frame.
    pub payload_bytes: Option<usize>,
    seq: u64,
    ts: u32,
    picture_id: u16,
}

impl Default for RawCamera {
    fn default() -> Self {
        RawCamera {
            seq_step: 1,
            ts_step: 2970,
            empty_per_frame: 0,
            payload_bytes: None,
            seq: 1_000,
            ts: 77,
            picture_id: 0,
        }
    }
}

impl RawCamera {
    /// The next packet's sequence number jumps by `by` (once).
    pub fn jump(&mut self, by: i64) {
        self.seq = self.seq.wrapping_add_signed(by);
    }

    fn write(&mut self, rtc: &mut Rtc, mid: Mid, now: Instant, key: bool, bytes: usize) {
        let Some(pt) = rtc.writer(mid).and_then(|w| {
            w.payload_params()
                .find(|p| p.spec().codec == Codec::Vp8)
                .map(|p| p.pt())
        }) else {
            return;
        };
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return;
        };
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        // X and S set, PID 0; I set; a 15-bit picture id.
        let pid = self.picture_id.to_be_bytes();
        let mut payload = vec![0x90, 0x80, 0x80 | pid[0], pid[1]];
        let mut frame = video_frame(Codec::Vp8, key);
        frame.truncate(bytes.min(1000));
        payload.extend(frame);
        if let Some(n) = self.payload_bytes {
            payload.resize(n, 0);
        }
        self.ts = self.ts.wrapping_add_signed(self.ts_step);
        self.seq = self.seq.wrapping_add_signed(self.seq_step);
        let packet = RtpWrite::new(pt, self.seq.into(), self.ts, now, payload);
        tx.write_rtp(packet.marker(true).nackable(true));
        for _ in 0..self.empty_per_frame {
            self.seq = self.seq.wrapping_add_signed(self.seq_step);
            tx.write_rtp(RtpWrite::new(pt, self.seq.into(), self.ts, now, Vec::new()));
        }
    }
}

pub struct Sim {
    pub now: Instant,
    pub worker: Worker,
    pub room: RoomId,
    pub clients: Vec<Client>,
    next_id: u32,
    /// Real (not simulated) time spent inside the worker's datagram and timeout handling and
    /// its output: what `cargo bench` reports as the core's cost.
    pub worker_busy: Duration,
    pub datagrams_to_server: u64,
    pub datagrams_to_clients: u64,
    /// Decides which datagrams a lossy link drops.
    rng: StdRng,
    /// The room's latest bandwidth picture.
    pub report: Option<aula_sfu::RoomReport>,
    /// When set, the datagrams clients send to the server are copied here (source,
    /// destination, contents), up to [`CAPTURE_LIMIT`]: real STUN, DTLS and SRTP for tests
    /// that replay them altered.
    pub capture: Option<Vec<(SocketAddr, SocketAddr, Vec<u8>)>>,
}

/// Datagrams [`Sim::capture`] keeps at most.
pub const CAPTURE_LIMIT: usize = 5000;

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim::with_config(seed, None, true)
    }

    /// Layers by tile size alone: no estimate, no budget, no pause at the source
    /// (`bandwidth_adaptation = false`).
    /// A room of `n` who each joined and publish; no time has passed yet.
    pub fn with_publishers(seed: u64, n: usize) -> Sim {
        let mut sim = Sim::new(seed);
        for i in 0..n {
            sim.join();
            sim.publish(i);
        }
        sim
    }

    pub fn without_adaptation(seed: u64) -> Sim {
        Sim::with_config(seed, None, false)
    }

    /// A room whose egress may not exceed `limit` bit/s (`room_egress_limit_mbps`).
    pub fn with_room_limit(seed: u64, limit: u64) -> Sim {
        Sim::with_config(seed, Some(limit), true)
    }

    fn with_config(seed: u64, room_limit: Option<u64>, adaptation: bool) -> Sim {
        let config = CoreConfig {
            candidates: vec![SERVER.parse().unwrap()],
            max_tracks_per_participant: 3,
            egress: None,
            room_egress_limit: room_limit,
            adaptation,
        };
        Sim {
            now: Instant::now(),
            worker: Worker::new(config, seed),
            room: "room-1".into(),
            clients: Vec::new(),
            next_id: 0,
            worker_busy: Duration::ZERO,
            datagrams_to_server: 0,
            datagrams_to_clients: 0,
            report: None,
            rng: StdRng::seed_from_u64(seed),
            capture: None,
        }
    }

    /// A new participant joins (without publishing yet); returns its index.
    pub fn join(&mut self) -> usize {
        let id = ParticipantId(self.next_id);
        self.next_id += 1;
        let index = self.clients.len();
        self.clients.push(Client::new(id, index as u16, self.now));
        let cmd = Command::Join { participant: id };
        self.worker.handle_command(self.now, &self.room, cmd);
        index
    }

    /// Client `i` (re)publishes microphone and camera on a fresh publish connection.
    pub fn publish(&mut self, i: usize) {
        let now = self.now;
        let c = &mut self.clients[i];
        c.generation += 1;
        let addr = c.addr(0, c.generation);
        let builder = match c.bare_header {
            true => (Rtc::builder().clear_extension_map()).set_extension(1, Extension::RtpMid),
            false => Rtc::builder(),
        };
        let mut rtc = builder.build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let a = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let simulcast = c.simulcast.then(|| {
            let mut s = str0m::media::Simulcast::new();
            for rid in RIDS {
                s.add_send_layer(str0m::media::SimulcastLayer::new(rid));
            }
            s
        });
        let v = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast);
        let (offer, pending) = change.apply().expect("changes to offer");
        c.up = Some(Side {
            rtc,
            addr,
            next_timeout: now,
        });
        c.up_pending = Some(pending);
        c.up_mids = vec![
            (a, MediaKind::Audio, Source::Microphone, true),
            (v, MediaKind::Video, Source::Camera, true),
        ];
        c.up_connected = false;
        // A restarted publisher starts from new random timestamps.
        c.audio_time = 1_000_000 * c.generation as u64 + 7;
        c.video_time = 9_000_000 * c.generation as u64 + 11;
        self.send_publish(i, offer.to_sdp_string());
    }

    /// Sends client `i`'s publish offer, remembering it until its answer arrives.
    fn send_publish(&mut self, i: usize, offer: String) {
        let c = &mut self.clients[i];
        let tracks: Vec<TrackHint> = c
            .up_mids
            .iter()
            .map(|(mid, kind, source, _)| TrackHint {
                mid: mid.to_string(),
                source: *source,
                layers: match (*kind, *source, c.simulcast) {
                    (MediaKind::Video, Source::Camera, true) => RIDS
                        .iter()
                        .zip(LAYER_HEIGHTS)
                        .map(|(rid, height)| aula_sfu::LayerHint {
                            rid: rid.to_string(),
                            width: height * 16 / 9,
                            height,
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        let make = || Command::Publish {
            participant: c.id,
            offer: offer.clone(),
            tracks: tracks.clone(),
        };
        c.up_offer = Some(make());
        self.worker.handle_command(self.now, &self.room, make());
    }

    /// Signaling opens or closes one of client `i`'s gates.
    pub fn gate(&mut self, i: usize, source: Source, open: bool) {
        let cmd = Command::Gate {
            participant: self.clients[i].id,
            source,
            open,
        };
        self.worker.handle_command(self.now, &self.room, cmd);
    }

    /// Client `i` renegotiates its publish connection (same peer connection): which of its
    /// m-lines send (`None` leaves one as it is), and a screen m-line appended if `screen` is
    /// true and there is none yet. Like a browser turning its camera off (`inactive`), back on,
    /// or starting a screen share.
    /// Returns false if it could not (no publish connection, or an offer still unanswered).
    pub fn renegotiate_publish(
        &mut self,
        i: usize,
        audio: bool,
        video: bool,
        screen: bool,
    ) -> bool {
        let c = &mut self.clients[i];
        let Some(up) = c.up.as_mut() else {
            return false;
        };
        if c.up_pending.is_some() {
            return false; // one offer at a time, as a browser's publish chain
        }
        let mut change = up.rtc.sdp_api();
        for (mid, kind, source, sending) in &mut c.up_mids {
            let want = match (kind, source) {
                (MediaKind::Audio, _) => audio,
                (_, Source::Screen) => screen,
                _ => video,
            };
            if *sending != want {
                let dir = if want {
                    Direction::SendOnly
                } else {
                    Direction::Inactive
                };
                change.set_direction(*mid, dir);
                *sending = want;
            }
        }
        if screen && !c.up_mids.iter().any(|m| m.2 == Source::Screen) {
            let mid = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            c.up_mids
                .push((mid, MediaKind::Video, Source::Screen, true));
        }
        let Some((offer, pending)) = change.apply() else {
            return true;
        };
        c.up_pending = Some(pending);
        self.send_publish(i, offer.to_sdp_string());
        true
    }

    /// Client `i` restarts ICE on its publish connection (an offer with new credentials).
    pub fn restart_publish_ice(&mut self, i: usize) {
        self.restart_publish_ice_changing(i, false);
    }

    /// The same, and with `video_off` it also turns the camera's m-line inactive in the same
    /// offer, which the protocol does not allow.
    pub fn restart_publish_ice_changing(&mut self, i: usize, video_off: bool) {
        let c = &mut self.clients[i];
        let Some(up) = c.up.as_mut() else { return };
        if c.up_pending.is_some() {
            return;
        }
        let mut change = up.rtc.sdp_api();
        change.ice_restart(true);
        if video_off {
            let video = c
                .up_mids
                .iter()
                .find(|m| m.1 == MediaKind::Video)
                .map(|m| m.0);
            change.set_direction(video.expect("a camera"), Direction::Inactive);
        }
        let (offer, pending) = change.apply().expect("an ICE restart is an offer");
        c.up_pending = Some(pending);
        self.send_publish(i, offer.to_sdp_string());
    }

    /// Client `i`'s page shows these streams at these heights (and no others): (publisher
    /// index, source, height).
    pub fn view(&mut self, i: usize, tiles: &[(usize, Source, u32)]) {
        let tiles = tiles
            .iter()
            .map(|&(p, source, height)| aula_sfu::Tile {
                publisher: self.clients[p].id,
                source,
                width: height * 16 / 9,
                height,
            })
            .collect();
        let cmd = Command::View {
            participant: self.clients[i].id,
            tiles,
        };
        self.worker.handle_command(self.now, &self.room, cmd);
    }

    /// Client `i`'s publish connection sends a packet on each of `n` layers nobody announced
    /// on its camera m-line (rids `z0`, `z1`, …, each from its own SSRC), as a broken or
    /// hostile client might, beside its real media.
    pub fn inject_unannounced_layers(&mut self, i: usize, n: u32) {
        let now = self.now;
        let round = self.clients[i].junk_rounds;
        self.clients[i].junk_rounds += 1;
        let Some((mut api, mid, pt)) = self.clients[i].camera_direct() else {
            return;
        };
        for k in 0..n {
            let rid = format!("z{k}");
            let ssrc = Ssrc::from(0x5eed_0000 + k);
            let tx = match api.stream_tx(&ssrc) {
                Some(tx) => tx,
                None => api.declare_stream_tx(ssrc, None, mid, Some(rid.as_str().into())),
            };
            let seq = u64::from(round) + 1;
            tx.write_rtp(RtpWrite::new(
                pt,
                seq.into(),
                round * 3000,
                now,
                vec![0x10; 800],
            ));
        }
    }

    /// Client `i` asks for a keyframe (PLI) on every video m-line it receives, as a broken
    /// decoder or a hostile page might; the caller repeats it as fast as it likes.
    pub fn request_keyframes(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let mids: Vec<Mid> = c
            .down_tracks
            .iter()
            .filter(|(_, t)| t.1 == Kind::Video)
            .map(|(m, _)| *m)
            .collect();
        let Some(down) = c.down.as_mut() else { return };
        let mut api = down.rtc.direct_api();
        for mid in mids {
            if let Some(rx) = api.stream_rx_by_mid(mid, None) {
                rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
            }
        }
    }

    /// Client `i` is a host (or no longer one).
    pub fn set_host(&mut self, i: usize, host: bool) {
        let cmd = Command::Role {
            participant: self.clients[i].id,
            host,
        };
        self.worker.handle_command(self.now, &self.room, cmd);
    }

    /// Client `i` asks for an ICE restart of its subscribe connection.
    pub fn restart_subscribe_ice(&mut self, i: usize) {
        let cmd = Command::IceRestart {
            participant: self.clients[i].id,
        };
        self.worker.handle_command(self.now, &self.room, cmd);
    }

    /// Client `i`'s signaling comes back (`Command::Resume`). `fresh`: its page reloaded, so
    /// both its connections are gone; it publishes again on a new one if it published.
    pub fn resume(&mut self, i: usize, fresh: bool) {
        let c = &mut self.clients[i];
        c.offline = false;
        let republish = fresh && c.up.is_some();
        if fresh {
            c.up = None;
            c.up_pending = None;
            c.up_connected = false;
            c.down = None;
            c.down_mids.clear();
        }
        let cmd = Command::Resume {
            participant: c.id,
            fresh,
        };
        // A publish whose answer went with the old socket is sent again, as the page does.
        let unanswered = c
            .up_offer
            .take()
            .filter(|_| !fresh && c.up_pending.is_some());
        self.worker.handle_command(self.now, &self.room, cmd);
        if let Some(offer) = unanswered {
            self.clients[i].up_offer = Some(clone_publish(&offer));
            self.worker.handle_command(self.now, &self.room, offer);
        }
        if republish {
            self.publish(i);
        }
    }

    /// Client `i`'s answers held back by `slow_answers` reach the server now, and later ones
    /// go at once.
    pub fn release_answers(&mut self, i: usize) {
        self.clients[i].slow_answers = false;
        for cmd in std::mem::take(&mut self.clients[i].held) {
            self.worker.handle_command(self.now, &self.room, cmd);
        }
        self.pump();
    }

    /// Client `i` closes its publishing peer connection, as a browser does when the page
    /// calls `close()` on it. Of what that sends (RTCP BYE and a DTLS close_notify) only the
    /// DTLS reaches the server, so nothing after the close_notify tells it anything.
    pub fn close_publish(&mut self, i: usize) {
        let now = self.now;
        let Some(up) = self.clients[i].up.as_mut() else {
            return;
        };
        up.rtc.close().expect("close");
        let mut sent = Vec::new();
        loop {
            match up.rtc.poll_output().expect("client poll") {
                RtcOutput::Timeout(t) => {
                    up.next_timeout = t;
                    break;
                }
                RtcOutput::Transmit(t) => sent.push(t),
                RtcOutput::Event(_) => {}
            }
        }
        // RFC 7983: a first byte of 20 to 63 is DTLS.
        for t in sent.iter().filter(|t| (20..=63).contains(&t.contents[0])) {
            self.datagrams_to_server += 1;
            (self.worker).handle_datagram(now, t.source, t.destination, &t.contents);
        }
        self.pump();
    }

    pub fn leave(&mut self, i: usize) {
        let id = self.clients[i].id;
        self.clients[i].up = None;
        self.clients[i].down = None;
        let cmd = Command::Leave { participant: id };
        self.worker.handle_command(self.now, &self.room, cmd);
    }

    /// Runs the simulation for `duration` of simulated time.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            self.pump();
            let next = self.next_wakeup().min(end);
            if next <= self.now && self.now >= end {
                return;
            }
            // Time moves forward at least a millisecond a step, like a real clock would.
            self.now = next.max(self.now + Duration::from_millis(1));
            if self.now > end {
                return;
            }
            let started = Instant::now();
            self.worker.handle_timeout(self.now);
            self.worker_busy += started.elapsed();
            let now = self.now;
            for c in &mut self.clients {
                c.handle_timeout(now);
            }
        }
    }

    fn next_wakeup(&self) -> Instant {
        let far = self.now + Duration::from_secs(3600);
        let worker = self.worker.poll_timeout().unwrap_or(far);
        let clients = self
            .clients
            .iter()
            .map(Client::next_wakeup)
            .min()
            .unwrap_or(far);
        worker.min(clients)
    }

    /// Moves packets and signaling until nothing is in flight.
    fn pump(&mut self) {
        self.no_room_failed();
        loop {
            let mut moved = false;
            loop {
                let started = Instant::now();
                let out = self.worker.poll_output();
                self.worker_busy += started.elapsed();
                let Some(out) = out else { break };
                moved = true;
                self.handle_worker_output(out);
            }
            let now = self.now;
            let mut to_server = Vec::new();
            for c in &mut self.clients {
                c.deliver(now);
                let before = to_server.len();
                c.poll(now, &mut to_server);
                if c.uplink_loss > 0.0 {
                    let mut kept = to_server.split_off(before);
                    kept.retain(|_| !self.rng.random_bool(c.uplink_loss.min(1.0)));
                    to_server.extend(kept);
                }
            }
            for (source, destination, data) in to_server {
                if let Some(kept) = self.capture.as_mut().filter(|k| k.len() < CAPTURE_LIMIT) {
                    kept.push((source, destination, data.clone()));
                }
                moved = true;
                self.datagrams_to_server += 1;
                let started = Instant::now();
                self.worker.handle_datagram(now, source, destination, &data);
                self.worker_busy += started.elapsed();
            }
            if !moved {
                self.no_room_failed();
                return;
            }
        }
    }

    /// The worker catches a panic in a room's code (worker::fail_room) and goes on; a test,
    /// and the fuzzer, must still see it.
    pub fn no_room_failed(&self) {
        let failed = self.worker.stats().rooms_failed;
        assert_eq!(failed, 0, "a room's code panicked (its message is above)");
    }

    fn handle_worker_output(&mut self, out: Output) {
        let now = self.now;
        match out {
            Output::Transmit(t) => {
                self.datagrams_to_clients += 1;
                if let Some(c) = self.clients.iter_mut().find(|c| c.owns(t.destination)) {
                    c.datagrams_in += 1;
                    if c.downlink_loss > 0.0 && self.rng.random_bool(c.downlink_loss.min(1.0)) {
                        return;
                    }
                    if c.downlink_rate.is_some() {
                        c.shape(now, t.source, t.destination, t.contents.to_vec());
                        return;
                    }
                    c.receive(now, t.source, t.destination, &t.contents);
                }
            }
            Output::Event {
                participant, event, ..
            } => {
                let Some(c) = self.clients.iter_mut().find(|c| c.id == participant) else {
                    return;
                };
                if c.offline {
                    return; // lost with the socket
                }
                match c.handle_sfu_event(now, event) {
                    Some(cmd @ Command::SubscribeAnswer { .. }) if c.slow_answers => {
                        c.held.push(cmd)
                    }
                    Some(cmd) => self.worker.handle_command(now, &self.room, cmd),
                    None => {}
                }
            }
            Output::Report { report, .. } => self.report = report.map(|r| *r),
            _ => {}
        }
    }

    /// Datagrams reach the server as if sent by the addresses they name (a replay, say), and
    /// whatever the server makes of them goes where it goes.
    pub fn inject(&mut self, datagrams: &[(SocketAddr, SocketAddr, Vec<u8>)]) {
        for (source, destination, data) in datagrams {
            self.datagrams_to_server += 1;
            self.worker
                .handle_datagram(self.now, *source, *destination, data);
        }
        self.pump();
    }

    /// Frames client `i` received from participant `from` of one kind.
    pub fn frames(&self, i: usize, from: usize, kind: Kind) -> Vec<&Received> {
        let from = self.clients[from].id;
        let c = &self.clients[i];
        c.received
            .iter()
            .filter(|r| r.from == from && r.kind == kind)
            .collect()
    }
}

impl Client {
    fn new(id: ParticipantId, index: u16, now: Instant) -> Client {
        Client {
            id,
            index,
            up: None,
            up_pending: None,
            up_offer: None,
            up_mids: Vec::new(),
            up_connected: false,
            offline: false,
            slow_answers: false,
            held: Vec::new(),
            down_mids: Vec::new(),
            generation: 0,
            down: None,
            down_tracks: HashMap::new(),
            offers: 0,
            resets: 0,
            quality: Vec::new(),
            unavailable: Vec::new(),
            vp8_only: false,
            errors: Vec::new(),
            received: Vec::new(),
            next_audio: now,
            next_video: now,
            next_keyframe: now + KEYFRAME_INTERVAL,
            want_keyframe: true,
            keyframe_owed: [Some(now); 3],
            keyframe_latency: Duration::ZERO,
            simulcast: false,
            layers_on: [true; 3],
            audio_time: 0,
            video_time: 0,
            keyframes_sent: 0,
            keyframe_request_layers: Vec::new(),
            keyframe_requests: Vec::new(),
            video_codec: Codec::Vp8,
            audio_interval: AUDIO_INTERVAL,
            video_interval: VIDEO_INTERVAL,
            video_bytes: 3000,
            layer_bytes: LAYER_FRAME_BYTES,
            screen_caps: Vec::new(),
            camera_caps: Vec::new(),
            screen_credit: 0.0,
            screen_content: None,
            uplink_loss: 0.0,
            downlink_loss: 0.0,
            audio_level: None,
            speakers: Vec::new(),
            junk_rounds: 0,
            bandwidth: Vec::new(),
            encodings: Vec::new(),
            ignores_encodings: false,
            layers_withheld: [false; 3],
            encodings_latency: Duration::ZERO,
            pending_encodings: VecDeque::new(),
            ignores_caps: false,
            downlink_rate: None,
            downlink_queue: Duration::from_millis(300),
            downlink_delay: Duration::from_millis(20),
            downlink_busy_until: None,
            in_flight: VecDeque::new(),
            downlink_dropped: 0,
            downlink_arrived: Vec::new(),
            downlink_offered: Vec::new(),
            raw_camera: None,
            bare_header: false,
            datagrams_in: 0,
        }
    }

    /// The address of the client's subscribe connection, if it has one.
    pub fn down_addr(&self) -> Option<SocketAddr> {
        self.down.as_ref().map(|d| d.addr)
    }

    /// Each client has its own loopback address; each connection its own port.
    fn addr(&self, down: u16, generation: u16) -> SocketAddr {
        let port = 5000 + down * 1000 + generation;
        format!(
            "127.{}.{}.1:{port}",
            1 + self.index / 250,
            1 + self.index % 250
        )
        .parse()
        .unwrap()
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        self.sides().any(|s| s.addr == addr)
    }

    fn sides(&self) -> impl Iterator<Item = &Side> {
        self.up.iter().chain(self.down.iter())
    }

    /// Queues a datagram at the downlink's bottleneck: it leaves when the link has carried
    /// what is ahead of it and arrives `downlink_delay` later; dropped if it would wait longer
    /// than `downlink_queue`.
    fn shape(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
        let rate = self.downlink_rate.expect("shaped");
        self.downlink_offered.push((now, data.len()));
        let start = self.downlink_busy_until.map_or(now, |t| t.max(now));
        if start - now > self.downlink_queue {
            self.downlink_dropped += 1;
            return;
        }
        let bits = (data.len() as u64 + 28) * 8;
        let leaves = start + Duration::from_nanos(bits * 1_000_000_000 / rate.max(1));
        self.downlink_busy_until = Some(leaves);
        self.in_flight
            .push_back((leaves + self.downlink_delay, source, destination, data));
    }

    /// Delivers what has arrived by `now`.
    fn deliver(&mut self, now: Instant) {
        while self.in_flight.front().is_some_and(|d| d.0 <= now) {
            let (at, source, destination, data) = self.in_flight.pop_front().expect("front");
            self.downlink_arrived.push((at, data.len()));
            if self.owns(destination) {
                self.receive(now, source, destination, &data);
            }
        }
    }

    fn next_wakeup(&self) -> Instant {
        let arrival = self.in_flight.front().map(|d| d.0);
        let rtc = self
            .sides()
            .map(|s| s.next_timeout)
            .min()
            .into_iter()
            .chain(arrival)
            .min();
        let media = self
            .up_connected
            .then_some(self.next_audio.min(self.next_video));
        rtc.into_iter()
            .chain(media)
            .min()
            .unwrap_or(self.next_audio + Duration::from_secs(3600))
    }

    fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let side = [self.up.as_mut(), self.down.as_mut()]
            .into_iter()
            .flatten()
            .find(|s| s.addr == destination)
            .expect("caller checked the address");
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents: data.try_into().expect("server sends valid datagrams"),
            },
        );
        side.rtc.handle_input(input).expect("client accepts input");
    }

    fn handle_timeout(&mut self, now: Instant) {
        for side in [self.up.as_mut(), self.down.as_mut()].into_iter().flatten() {
            if side.next_timeout <= now {
                side.rtc.handle_input(Input::Timeout(now)).expect("timeout");
            }
        }
        if self.up_connected {
            self.write_media(now);
        }
    }

    /// The publish connection's direct API, its camera m-line and the camera's payload type.
    fn camera_direct(&mut self) -> Option<(str0m::change::DirectApi<'_>, Mid, str0m::media::Pt)> {
        let mid = self
            .up_mids
            .iter()
            .find(|m| m.1 == MediaKind::Video && m.2 == Source::Camera)?
            .0;
        let up = self.up.as_mut()?;
        let pt = up.rtc.writer(mid)?.payload_params().next()?.pt();
        Some((up.rtc.direct_api(), mid, pt))
    }

    /// Carries out the `encodings` whose time has come, as the page does: switches the named
    /// encodings on and off.
    fn apply_encodings(&mut self, now: Instant) {
        while self.pending_encodings.front().is_some_and(|e| e.0 <= now) {
            let (_, encodings) = self.pending_encodings.pop_front().expect("a front");
            for (rid, active) in encodings {
                if let Some(i) = RIDS.iter().position(|r| *r == rid) {
                    // An encoding switched back on starts with a keyframe, as a browser's
                    // does.
                    if active && !self.layers_on[i] {
                        self.keyframe_owed[i].get_or_insert(now);
                    }
                    self.layers_on[i] = active;
                }
            }
        }
    }

    fn write_media(&mut self, now: Instant) {
        self.apply_encodings(now);
        let Some(up) = &mut self.up else { return };
        let sending = |kind: MediaKind| {
            self.up_mids
                .iter()
                .find(|m| m.1 == kind && m.2 != Source::Screen && m.3)
                .map(|m| m.0)
        };
        let (audio_mid, video_mid) = (sending(MediaKind::Audio), sending(MediaKind::Video));
        let screen_mid = self
            .up_mids
            .iter()
            .find(|m| m.2 == Source::Screen && m.3)
            .map(|m| m.0);
        if now >= self.next_audio {
            self.next_audio += self.audio_interval;
            self.audio_time += 960;
            if let Some(mid) = audio_mid {
                let frame = Frame {
                    codec: Codec::Opus,
                    time: self.audio_time,
                    hz: 48_000,
                    level: self.audio_level,
                };
                write(&mut up.rtc, mid, now, frame, vec![0xfc; AUDIO_PAYLOAD]);
            }
        }
        if now >= self.next_video {
            self.next_video += self.video_interval;
            self.video_time += 2970;
            let key = self.want_keyframe || now >= self.next_keyframe;
            if key {
                self.want_keyframe = false;
                self.next_keyframe = now + KEYFRAME_INTERVAL;
                self.keyframes_sent += 1;
            }
            let camera = video_mid.filter(|_| !self.simulcast);
            // Under a cap, or on content that changes little, the screen skips frames (a
            // keyframe always goes).
            let cap = match (
                self.screen_caps.last().and_then(|c| c.1),
                self.screen_content,
            ) {
                (Some(cap), Some(content)) => Some(cap.min(content)),
                (cap, content) => cap.or(content),
            };
            let frame_bits = (self.video_bytes * 8) as f64;
            let screen_mid = match cap {
                Some(cap) => {
                    self.screen_credit = (self.screen_credit
                        + cap as f64 * self.video_interval.as_secs_f64())
                    .min(2.0 * frame_bits);
                    let go = key || self.screen_credit >= frame_bits;
                    if go {
                        self.screen_credit -= frame_bits;
                    }
                    screen_mid.filter(|_| go)
                }
                None => screen_mid,
            };
            for mid in camera.into_iter().chain(screen_mid) {
                if let (Some(raw), true) = (self.raw_camera.as_mut(), Some(mid) == camera) {
                    raw.write(&mut up.rtc, mid, now, key, self.video_bytes);
                    continue;
                }
                let mut frame = video_frame(self.video_codec, key);
                frame.truncate(self.video_bytes);
                let meta = Frame {
                    codec: self.video_codec,
                    time: self.video_time,
                    hz: 90_000,
                    level: None,
                };
                write(&mut up.rtc, mid, now, meta, frame);
            }
            if let (Some(mid), true) = (video_mid, self.simulcast) {
                for (layer, rid) in RIDS.iter().enumerate() {
                    if !self.layers_on[layer] || self.layers_withheld[layer] {
                        continue;
                    }
                    let owed = self.keyframe_owed[layer]
                        .is_some_and(|since| now >= since + self.keyframe_latency);
                    if owed {
                        self.keyframe_owed[layer] = None;
                    }
                    let key = key || owed;
                    let mut bytes = self.layer_bytes[layer];
                    let caps = self.camera_caps.last().filter(|_| !self.ignores_caps);
                    if let (0, Some((_, Some(cap)))) = (layer, caps) {
                        let per_frame = *cap as f64 * self.video_interval.as_secs_f64() / 8.0;
                        bytes = bytes.min((per_frame as usize).max(100));
                    }
                    let mut frame = video_frame(Codec::Vp8, key);
                    frame.truncate(bytes);
                    frame[1] = layer as u8;
                    let meta = Frame {
                        codec: Codec::Vp8,
                        time: self.video_time,
                        hz: 90_000,
                        level: None,
                    };
                    write_rid(&mut up.rtc, mid, Some(*rid), now, meta, frame);
                }
            }
        }
    }

    fn poll(&mut self, now: Instant, to_server: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>) {
        let mut events = Vec::new();
        for (is_down, side) in [(false, self.up.as_mut()), (true, self.down.as_mut())] {
            let Some(side) = side else { continue };
            loop {
                match side.rtc.poll_output().expect("client poll") {
                    RtcOutput::Timeout(t) => {
                        side.next_timeout = t;
                        break;
                    }
                    RtcOutput::Transmit(t) => {
                        to_server.push((t.source, t.destination, t.contents.to_vec()))
                    }
                    RtcOutput::Event(e) => events.push((is_down, e)),
                }
            }
        }
        for (is_down, e) in events {
            self.handle_rtc_event(now, is_down, e);
        }
    }

    fn handle_rtc_event(&mut self, now: Instant, is_down: bool, e: Event) {
        match (is_down, e) {
            (false, Event::Connected) => {
                self.up_connected = true;
                self.next_audio = now;
                self.next_video = now;
            }
            (false, Event::KeyframeRequest(req)) => {
                let layer = req.rid.and_then(|r| RIDS.iter().position(|x| **x == *r));
                self.keyframe_request_layers.push((now, layer));
                match layer {
                    Some(layer) => {
                        self.keyframe_owed[layer].get_or_insert(now);
                    }
                    None => self.want_keyframe = true,
                }
                self.keyframe_requests.push(now);
            }
            (true, Event::MediaData(d)) => {
                let Some((from, kind, source)) = self.down_tracks.get(&d.mid).copied() else {
                    return;
                };
                self.received.push(Received {
                    from,
                    kind,
                    source,
                    mid: d.mid,
                    rtp_time: d.time.numer(),
                    keyframe: d.is_keyframe(),
                    codec: d.params.spec().codec,
                    contiguous: d.contiguous,
                    first_seq: **d.seq_range.start(),
                    last_seq: **d.seq_range.end(),
                    at: now,
                    audio_level: d.ext_vals.audio_level,
                    tag: d.data.get(1).copied().unwrap_or(0),
                    picture_id: match d.codec_extra {
                        str0m::format::CodecExtra::Vp8(e) => e.picture_id,
                        _ => None,
                    },
                    size: d.data.len(),
                    sps: d.params.spec().codec == Codec::H264 && has_sps(&d.data),
                });
            }
            _ => {}
        }
    }

    fn handle_sfu_event(&mut self, now: Instant, event: SfuEvent) -> Option<Command> {
        match event {
            SfuEvent::PublishAnswer { sdp } => {
                let answer = SdpAnswer::from_sdp_string(&sdp).expect("valid answer");
                self.up_offer = None;
                let (Some(pending), Some(up)) = (self.up_pending.take(), self.up.as_mut()) else {
                    self.errors.push("a publish answer nobody waits for".into());
                    return None;
                };
                if let Err(e) = up.rtc.sdp_api().accept_answer(pending, answer) {
                    self.errors
                        .push(format!("publish answer not accepted: {e}"));
                }
                None
            }
            SfuEvent::SubscribeOffer { sdp, tracks, reset } => {
                self.offers += 1;
                if reset {
                    self.resets += 1;
                    self.down = None;
                    self.down_mids.clear();
                }
                if let Err(why) = check_jsep(&self.down_mids, &sdp) {
                    self.errors.push(format!("offer breaks JSEP: {why}"));
                }
                self.down_mids = mids_of(&sdp);
                self.down_tracks = tracks
                    .iter()
                    .map(|t| (Mid::from(t.mid.as_str()), (t.participant, t.kind, t.source)))
                    .collect();
                if self.down.is_none() {
                    let addr = self.addr(1, self.resets as u16);
                    let builder = match self.vp8_only {
                        true => Rtc::builder()
                            .clear_codecs()
                            .enable_opus(true, false)
                            .enable_vp8(true),
                        false => Rtc::builder(),
                    };
                    let mut rtc = builder.build(now);
                    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
                    self.down = Some(Side {
                        rtc,
                        addr,
                        next_timeout: now,
                    });
                }
                let down = self.down.as_mut().expect("just made");
                let offer = SdpOffer::from_sdp_string(&sdp).expect("valid offer");
                match down.rtc.sdp_api().accept_offer(offer) {
                    Ok(answer) => Some(Command::SubscribeAnswer {
                        participant: self.id,
                        answer: answer.to_sdp_string(),
                    }),
                    Err(e) => {
                        self.errors
                            .push(format!("subscribe offer not accepted: {e}"));
                        Some(Command::SubscribeFailed {
                            participant: self.id,
                        })
                    }
                }
            }
            SfuEvent::Bandwidth { paused, limited } => {
                self.bandwidth.push((now, paused, limited));
                None
            }
            SfuEvent::Encodings { source, encodings } => {
                // As the page does: switch the named encodings on and off.
                self.encodings.push((now, source, encodings.clone()));
                if source == Source::Camera && self.simulcast && !self.ignores_encodings {
                    let due = now + self.encodings_latency;
                    self.pending_encodings.push_back((due, encodings));
                    self.apply_encodings(now);
                }
                None
            }
            SfuEvent::MaxBitrate {
                source,
                max_bitrate,
            } => {
                match source {
                    Source::Screen => self.screen_caps.push((now, max_bitrate)),
                    _ => self.camera_caps.push((now, max_bitrate)),
                }
                None
            }
            SfuEvent::Speakers { speaking, dominant } => {
                self.speakers.push(SpeakersSeen {
                    at: now,
                    speaking,
                    dominant,
                });
                None
            }
            SfuEvent::StreamUnavailable {
                publisher,
                source,
                reason,
                codec,
            } => {
                self.unavailable
                    .push((publisher, source, reason.as_str().to_string(), codec));
                None
            }
            SfuEvent::Quality(q) => {
                self.quality.push((now, q));
                None
            }
            SfuEvent::Error { error: e, .. } => {
                self.errors.push(e.to_string());
                None
            }
            // Only a panic in the room's code sends it, which no simulated test expects.
            SfuEvent::MediaLost => {
                self.errors.push("media lost".into());
                None
            }
        }
    }
}

fn clone_publish(cmd: &Command) -> Command {
    match cmd {
        Command::Publish {
            participant,
            offer,
            tracks,
        } => Command::Publish {
            participant: *participant,
            offer: offer.clone(),
            tracks: tracks.clone(),
        },
        _ => unreachable!("only publish commands are kept"),
    }
}

/// The mids of an SDP's m-lines, in order.
fn mids_of(sdp: &str) -> Vec<String> {
    let mut mids = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            mids.push(String::new());
        } else if let (Some(m), Some(last)) = (line.strip_prefix("a=mid:"), mids.last_mut()) {
            *last = m.trim().to_string();
        }
    }
    mids
}

/// What a browser holds an offer on an existing connection to (JSEP, RFC 8829 §5.2.2, and
/// what Chrome does with a stopped first m-line): every earlier m-line again, in the same
/// order, none stopped with port 0, and no two with the same `a=msid` (Chromium refuses such
/// an offer: "Duplicate a=msid lines detected").
fn check_jsep(before: &[String], sdp: &str) -> Result<(), String> {
    let mut msids = HashSet::new();
    for msid in sdp.lines().filter_map(|l| l.strip_prefix("a=msid:")) {
        if !msids.insert(msid.trim()) {
            return Err(format!("two m-lines with a=msid:{msid}"));
        }
    }
    let after = mids_of(sdp);
    if !after.starts_with(before) {
        return Err(format!("m-lines {before:?} became {after:?}"));
    }
    if let Some(line) = sdp
        .lines()
        .find(|l| l.starts_with("m=") && l.split(' ').nth(1) == Some("0"))
    {
        return Err(format!("a stopped m-line: {line}"));
    }
    Ok(())
}

/// A synthetic video frame that the depacketizer on the far side classifies correctly.
/// Whether an Annex B frame holds a sequence parameter set (NAL unit type 7).
fn has_sps(data: &[u8]) -> bool {
    data.windows(4)
        .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 7)
}

fn video_frame(codec: Codec, key: bool) -> Vec<u8> {
    match codec {
        Codec::H264 => {
            // Annex B: SPS, PPS and an IDR slice for a keyframe, one non-IDR slice otherwise;
            // the parameter sets as small as a browser's, so they go in one STAP-A ahead of
            // the IDR's fragments, as libwebrtc sends them.
            let mut frame = Vec::new();
            let nals: &[(u8, usize)] = if key {
                &[(0x67, 20), (0x68, 5), (0x65, 1800)]
            } else {
                &[(0x41, 900)]
            };
            for &(nal, size) in nals {
                frame.extend_from_slice(&[0, 0, 0, 1, nal]);
                frame.extend(std::iter::repeat_n(0x88, size));
            }
            frame
        }
        _ => {
            // VP8 payload header: bit 0 of the first byte clear means a keyframe. As large as
            // any test asks for; each caller cuts it to its size.
            let mut frame = vec![0x55; 8000];
            frame[0] = if key { 0x10 } else { 0x11 };
            frame
        }
    }
}

/// A browser-like publish offer (audio and video, sendonly) from a throwaway client.
pub fn publish_offer(now: Instant) -> String {
    let mut rtc = Rtc::builder().build(now);
    let addr: SocketAddr = "127.0.2.1:7000".parse().unwrap();
    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _) = change.apply().expect("changes to offer");
    offer.to_sdp_string()
}

/// What a client writes besides the payload.
struct Frame {
    codec: Codec,
    time: u64,
    hz: u32,
    level: Option<i8>,
}

fn write(rtc: &mut Rtc, mid: Mid, now: Instant, frame: Frame, data: Vec<u8>) {
    write_rid(rtc, mid, None, now, frame, data);
}

/// Simulcast layers a client sends: rids, heights, frame sizes (a VP8 frame of a few hundred
/// bytes for the low layer, several packets for the high one).
pub const RIDS: [&str; 3] = ["q", "h", "f"];
pub const LAYER_HEIGHTS: [u32; 3] = [180, 360, 720];
const LAYER_FRAME_BYTES: [usize; 3] = [600, 1800, 3000];

fn write_rid(
    rtc: &mut Rtc,
    mid: Mid,
    rid: Option<&str>,
    now: Instant,
    frame: Frame,
    data: Vec<u8>,
) {
    let Some(mut writer) = rtc.writer(mid) else {
        return;
    };
    if let Some(rid) = rid {
        writer = writer.rid(rid.into());
    }
    let Some(pt) = writer
        .payload_params()
        .find(|p| p.spec().codec == frame.codec)
        .map(|p| p.pt())
    else {
        return;
    };
    if let Some(level) = frame.level {
        writer = writer.audio_level(level, level > -50);
    }
    let hz = str0m::media::Frequency::new(frame.hz).unwrap();
    let time = MediaTime::new(frame.time, hz);
    writer.write(pt, now, time, data).expect("write media");
}

/// A test that ends with a room's panic caught fails too (see `Sim::no_room_failed`).
impl Drop for Sim {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.no_room_failed();
        }
    }
}
