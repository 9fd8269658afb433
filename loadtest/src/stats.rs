//! What a bot measured: join timings, what it sent, and per remote participant what it received.
//!
//! Times are offsets from the bot's start, so a report reads "joined after 12 ms" and runs can be
//! compared without wall clocks ([`BotStats::epoch`] puts them on a common timeline). Delays
//! come from the [`Stamp`](crate::media::Stamp) in each frame and so are one-way delays, valid
//! when sender and receiver share a clock.

use std::time::{Duration, Instant};

use crate::bot::Churn;
use crate::gaps::{GapLog, StreamKind};
use crate::protocol::Participant;
use crate::view::Tile;

/// Bot-level timings and counters. Cheap to clone for a snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotStats {
    /// The name the bot joined with.
    pub name: String,
    /// When the bot started: the instant every offset in these stats counts from.
    pub epoch: Option<Instant>,
    /// The participant id from the latest `joined` (a rejoin makes the bot a new participant).
    pub id: Option<String>,
    /// The role from `joined` (`host` or `participant`).
    pub role: Option<String>,
    /// This participant as the server last described it (`joined`, `participant_updated`):
    /// role, media flags as the server holds them, hand. Janus fills in only id and name.
    pub you: Option<Participant>,
    /// The session from `lobby` or `joined`, to rejoin with (`BotConfig::session`).
    pub session: Option<String>,
    /// The first WebSocket handshake done.
    pub ws_open: Option<Duration>,
    /// `lobby` received: the bot waited to be admitted from then on.
    pub lobby: Option<Duration>,
    /// The first `joined` received.
    pub joined: Option<Duration>,
    /// Times the server started this participant's media anew on the same socket (`joined`
    /// again, not resumed, with the same id: its room's media state was lost) and the bot
    /// opened new connections, as a page does.
    pub media_restarts: u32,
    /// Each `queued` received while the join waited in the server's queue, in order.
    pub queue: Vec<QueueNote>,
    /// Times the server answered the join with `server_busy` (its queue full) and the bot
    /// joined again after the time it was told, with jitter, as the page does.
    pub busy_retries: u32,
    /// Each participant this bot has been, in order: its first join, and one more for each
    /// rejoin (or resume that ended in a join).
    pub presences: Vec<Presence>,
    /// Each time the bot left and came back ([`BotHandle::churn`](crate::BotHandle::churn)),
    /// in order.
    pub churns: Vec<ChurnRecord>,
    /// Churn commands the bot refused: not joined yet, still away, or not on Aula.
    pub churns_refused: u32,
    /// ICE of the publish connection reached `connected`.
    pub publish_ice_connected: Option<Duration>,
    /// ICE of the subscribe connection reached `connected`.
    pub subscribe_ice_connected: Option<Duration>,
    /// The first frame of any remote participant arrived.
    pub first_media: Option<Duration>,
    /// `subscribe_offer`s answered.
    pub subscribe_offers: u32,
    /// Of the `subscribe_offer`s, those with `reset`: a new subscribe connection.
    pub subscribe_resets: u32,
    /// Negotiations that failed as this bot saw them: subscribe offers it could not apply (it
    /// answered `subscribe_failed`), publish answers str0m refused, and `bad_sdp` errors.
    pub renegotiations_failed: u32,
    /// What this bot published.
    pub sent: SentStats,
    /// UDP datagrams received on the subscribe connection: what the server forwarded to this
    /// bot (media, RTCP, STUN).
    pub datagrams_received: u64,
    /// Of those, RTP packets (RFC 7983's demultiplexing by the first two bytes): the media
    /// packets the server forwarded to this bot, counted alike whichever server it is.
    pub rtp_received: u64,
    /// UDP bytes received on the subscribe connection (datagram payloads, no IP or UDP
    /// headers).
    pub datagram_bytes_received: u64,
    /// `view` messages sent (Aula), or subscriber `configure`s that changed what is shown
    /// (Janus).
    pub views_sent: u32,
    /// What the server's bandwidth allocator told this bot (`bandwidth`), in order.
    pub bandwidth: Vec<BandwidthNote>,
    /// One entry per other participant seen, in order of first sight, since the latest join
    /// (a rejoined bot starts afresh, so its frame counts stay continuous).
    pub remotes: Vec<RemoteStats>,
    /// The silences of every stream received, per (own id, remote id, kind), never reset.
    pub gap_logs: Vec<GapLog>,
    /// `speakers` messages received.
    pub speakers_events: u64,
    /// Who talks, loudest first, as the latest `speakers` said.
    pub speaking: Vec<String>,
    /// The dominant speaker, as the latest `speakers` said.
    pub dominant: Option<String>,
    /// `room_ended` received, with its reason.
    pub room_ended: Option<String>,
    /// Server `error` messages and connection trouble, oldest first, at most [`MAX_ERRORS`].
    pub errors: Vec<String>,
}

/// How many entries [`BotStats::errors`] keeps; a misbehaving server must not grow a bot.
pub const MAX_ERRORS: usize = 32;

impl BotStats {
    /// The entry for a remote participant, if the bot has seen it.
    pub fn remote(&self, id: &str) -> Option<&RemoteStats> {
        self.remotes.iter().find(|r| r.id == id)
    }

    /// Index of the entry for `id`, adding an empty one when it is new.
    pub(crate) fn remote_index(&mut self, id: &str) -> usize {
        if let Some(i) = self.remotes.iter().position(|r| r.id == id) {
            return i;
        }
        self.remotes.push(RemoteStats {
            id: id.to_owned(),
            ..RemoteStats::default()
        });
        self.remotes.len() - 1
    }

    /// Index of the gap log of `remote`'s `kind` stream as received by `me`, added if new.
    pub(crate) fn gap_log_index(&mut self, me: &str, remote: &str, kind: StreamKind) -> usize {
        let found = self
            .gap_logs
            .iter()
            .position(|l| l.me == me && l.remote == remote && l.kind == kind);
        found.unwrap_or_else(|| {
            self.gap_logs.push(GapLog::new(me, remote, kind));
            self.gap_logs.len() - 1
        })
    }

    /// Notes `joined` as participant `id` at `at`: a new presence unless it is the current one
    /// (a resume).
    pub(crate) fn handle_presence(&mut self, id: &str, at: Duration) {
        if self
            .presences
            .last()
            .is_some_and(|p| p.id == id && p.left.is_none())
        {
            return;
        }
        self.presences.push(Presence {
            id: id.to_owned(),
            joined: at,
            left: None,
        });
    }

    /// The current participant left (or was given up) at `at`.
    pub(crate) fn end_presence(&mut self, at: Duration) {
        if let Some(p) = self.presences.last_mut().filter(|p| p.left.is_none()) {
            p.left = Some(at);
        }
    }

    /// The churn in progress, if any: one that has not come back yet.
    pub fn churning(&self) -> Option<&ChurnRecord> {
        self.churns.last().filter(|c| c.back.is_none())
    }

    pub(crate) fn churn_mut(&mut self) -> Option<&mut ChurnRecord> {
        self.churns.last_mut().filter(|c| c.back.is_none())
    }

    /// The bot is back in the lesson at `at` (`joined` after a resume; media flowing after a
    /// join), if a churn was waiting for that.
    pub(crate) fn handle_back(&mut self, at: Duration) {
        if let Some(c) = self.churn_mut().filter(|c| c.joined.is_some()) {
            c.back = Some(at);
        }
    }

    /// Records a problem, dropping it once [`MAX_ERRORS`] are kept.
    pub(crate) fn push_error(&mut self, error: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }

    /// Notes a `bandwidth` message at `at`: which remote cameras the server now pauses for
    /// want of bandwidth. A camera paused, and again one resumed, starts a new count of
    /// missing frames, as a hidden one does: the server chose not to send them, and the page
    /// says so on the tile; the time it stayed paused is counted instead
    /// ([`RemoteStats::paused_for`]). (At both ends: frames already on their way when the
    /// message came must not join the frames after the pause into one range; and a gap that
    /// ends at a keyframe, where the server resumes a stream, begins a new range whether it
    /// comes before the message that says so or after the last of those frames.)
    pub(crate) fn handle_bandwidth(&mut self, at: Duration, paused: &[String], limited: bool) {
        for r in &mut self.remotes {
            let now = paused.contains(&r.id);
            if now != r.paused_since.is_some() {
                r.video.restart_gap_count();
                r.video.range_at_keyframe = true;
            }
            match (r.paused_since, now) {
                (None, true) => {
                    r.paused_since = Some(at);
                    r.pauses += 1;
                }
                (Some(since), false) => {
                    r.paused_for += at.saturating_sub(since);
                    r.paused_since = None;
                }
                _ => {}
            }
        }
        if self.bandwidth.len() < MAX_BANDWIDTH_NOTES {
            self.bandwidth.push(BandwidthNote {
                at,
                paused: paused.to_vec(),
                limited,
            });
        }
    }

    /// Whether the bot received audio and video from `id`.
    pub fn has_media_from(&self, id: &str) -> bool {
        self.remote(id)
            .is_some_and(|r| r.audio.frames > 0 && r.video.frames > 0)
    }
}

/// How many `bandwidth` messages [`BotStats::bandwidth`] keeps: a server changing its mind
/// twice a second for ten minutes.
pub const MAX_BANDWIDTH_NOTES: usize = 1200;

/// One `bandwidth` message, as the bot received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthNote {
    /// When it arrived.
    pub at: Duration,
    /// The remote cameras paused from then on, by participant id.
    pub paused: Vec<String>,
    /// The bot's own link is what holds it back.
    pub limited: bool,
}

/// One participant a bot has been, from `joined` to leaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// Its participant id.
    pub id: String,
    /// `joined` received.
    pub joined: Duration,
    /// It sent `leave` (or its resume ended in a join as someone new); `None` while it stays.
    pub left: Option<Duration>,
}

/// One time a bot left and came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChurnRecord {
    /// Resume (socket dropped, media kept) or rejoin (`leave`, then a new participant).
    pub how: Churn,
    /// The socket was dropped, or `leave` sent.
    pub started: Duration,
    /// After the pause, the new WebSocket began to connect.
    pub reconnecting: Option<Duration>,
    /// `joined` arrived on the new socket.
    pub joined: Option<Duration>,
    /// The server refused the resume (`resume_failed`) and the bot joined as someone new.
    pub fell_back: bool,
    /// Back in the lesson: `joined` for a resume; the new publish connection up (or `joined`,
    /// for a bot that publishes nothing) for a join.
    pub back: Option<Duration>,
}

impl ChurnRecord {
    /// A churn that starts at `at`.
    pub(crate) fn new(how: Churn, at: Duration) -> ChurnRecord {
        ChurnRecord {
            how,
            started: at,
            reconnecting: None,
            joined: None,
            fell_back: false,
            back: None,
        }
    }

    /// From the start of the new connection to `joined`.
    pub fn latency(&self) -> Option<Duration> {
        Some(self.joined?.saturating_sub(self.reconnecting?))
    }
}

/// What a bot sent on its publish connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentStats {
    /// Audio frames written.
    pub audio_frames: u64,
    /// Camera frames captured (each written once per encoding).
    pub video_frames: u64,
    /// Keyframes written, all encodings together.
    pub keyframes: u64,
    /// Payload bytes written, audio and video.
    pub bytes: u64,
    /// Frames written per encoding of the camera, smallest first (index 0 alone without
    /// simulcast).
    pub layer_frames: [u64; MAX_LAYERS],
    /// PLI or FIR received for the video track.
    pub keyframe_requests: u64,
    /// `encodings` messages received: the server switching encodings nobody takes off, or
    /// back on.
    pub encodings_messages: u64,
    /// `camera_bitrate` messages received: the server capping the camera's lowest encoding,
    /// or lifting the cap.
    pub camera_caps: u64,
    /// UDP datagrams dropped because the socket would block (both connections).
    pub udp_send_drops: u64,
}

/// What a bot received from one other participant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteStats {
    /// The participant id.
    pub id: String,
    /// Display name, once `joined` or `participant_joined` told it.
    pub name: Option<String>,
    /// The participant as the server last described it (role, media flags, hand); Janus
    /// fills in only id and name.
    pub participant: Option<Participant>,
    /// `participant_left` received for it.
    pub left: Option<Duration>,
    /// Its microphone track.
    pub audio: StreamStats,
    /// Its camera track.
    pub video: StreamStats,
    /// The tile this bot's latest `view` shows its camera at; `None` while not shown (or
    /// while the bot sends no views).
    pub tile: Option<Tile>,
    /// When `tile` last changed.
    pub tile_since: Option<Duration>,
    /// Whether a `view` of this bot has ever shown its camera.
    pub shown: bool,
    /// Video received since `tile` last changed, per layer: what the server sends for the tile.
    pub since_tile: LayerCounts,
    /// Since when the server pauses this camera for want of bandwidth (`bandwidth`), if it
    /// does now.
    pub paused_since: Option<Duration>,
    /// Times the server paused it.
    pub pauses: u32,
    /// How long it was paused, pauses that have ended.
    pub paused_for: Duration,
}

impl RemoteStats {
    /// Notes that the bot now shows this camera at `tile` (`None`: not at all), from `at`.
    /// A camera hidden or shown again starts a new count of missing frames: the frames the
    /// server rightly did not send meanwhile are not lost.
    pub(crate) fn handle_tile(&mut self, tile: Option<Tile>, at: Duration) {
        if tile == self.tile && self.tile_since.is_some() {
            return;
        }
        if tile.is_some() != self.tile.is_some() {
            self.video.restart_gap_count();
        }
        self.shown |= tile.is_some();
        self.tile = tile;
        self.tile_since = Some(at);
        self.since_tile = LayerCounts::default();
    }
}

/// Simulcast layers a camera has at most (docs/protocol.md).
pub const MAX_LAYERS: usize = 3;

/// Frames and bytes per simulcast layer (the layer in each frame's stamp; a camera without
/// simulcast sends layer 0 only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerCounts {
    /// Frames, per layer.
    pub frames: [u64; MAX_LAYERS],
    /// Payload bytes, per layer.
    pub bytes: [u64; MAX_LAYERS],
}

impl LayerCounts {
    /// Records one frame of `bytes` from `layer` (anything above the last counts as the last).
    pub(crate) fn record(&mut self, layer: u8, bytes: usize) {
        let i = usize::from(layer).min(MAX_LAYERS - 1);
        self.frames[i] += 1;
        self.bytes[i] += bytes as u64;
    }

    /// What came after `earlier`, a count taken from the same tile before this one.
    pub fn since(&self, earlier: &LayerCounts) -> LayerCounts {
        let mut d = LayerCounts::default();
        for i in 0..MAX_LAYERS {
            d.frames[i] = self.frames[i].saturating_sub(earlier.frames[i]);
            d.bytes[i] = self.bytes[i].saturating_sub(earlier.bytes[i]);
        }
        d
    }

    /// The layer most frames came from, if any came.
    pub fn main_layer(&self) -> Option<usize> {
        let (i, n) = self.frames.iter().enumerate().max_by_key(|(_, n)| **n)?;
        (*n > 0).then_some(i)
    }

    /// All frames.
    pub fn total_frames(&self) -> u64 {
        self.frames.iter().sum()
    }

    /// All bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// One `queued` message: where the join stood in the server's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueNote {
    /// When it arrived, from the bot's start.
    pub at: Duration,
    /// 1 is the next to be let in.
    pub position: usize,
    /// Everyone in the queue.
    pub waiting: usize,
    /// The server's estimate of the wait, seconds, if it had one.
    pub wait_secs: Option<u64>,
}

/// Frames received on one track.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Frames (str0m `MediaData` events).
    pub frames: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Of the frames, keyframes (video only).
    pub keyframes: u64,
    /// The first frame arrived.
    pub first: Option<Duration>,
    /// The latest frame arrived.
    pub last: Option<Duration>,
    /// Frame numbers seen since the gap count last started over, to count gaps; `None`
    /// before the first stamped frame.
    pub seq_range: Option<(u32, u32)>,
    /// Stamped frames within `seq_range`.
    pub range_frames: u64,
    /// Frames missing in earlier ranges (before the bot hid or showed the camera).
    pub missing_before: u64,
    /// The server paused or resumed the stream: the next gap in the frame numbers that ends at
    /// a keyframe begins a new range. The server resumes a stream at a keyframe, and frames
    /// it sent before the pause may still arrive after the resume message (a pacer queue's
    /// worth, hundreds of ms on a busy machine; a keyframe among them in a stream's first
    /// second), so a range from those stragglers to the resumed keyframe would count the
    /// frames of the pause as lost. A gap that ends at any other frame is loss, and counted.
    pub range_at_keyframe: bool,
    /// Frames per simulcast layer, from each frame's stamp.
    pub layers: LayerCounts,
    /// One-way delay from the sender's stamp to this bot's event.
    pub delay: DelayStats,
}

impl StreamStats {
    /// Records one frame of `bytes` bytes whose stamp says `seq` and `layer`.
    pub(crate) fn record(
        &mut self,
        at: Duration,
        bytes: usize,
        keyframe: bool,
        stamp: Option<(u32, u8)>,
    ) {
        // After a pause or resume, a gap that ends at a keyframe is where the server resumed.
        let gap = |(_, hi): (u32, u32)| stamp.is_some_and(|(seq, _)| seq > hi.saturating_add(1));
        if self.range_at_keyframe && keyframe && self.seq_range.is_some_and(gap) {
            self.restart_gap_count();
            self.range_at_keyframe = false;
        }
        self.frames += 1;
        self.bytes += bytes as u64;
        self.keyframes += u64::from(keyframe);
        self.first.get_or_insert(at);
        self.last = Some(at);
        if let Some((seq, layer)) = stamp {
            self.layers.record(layer, bytes);
            self.range_frames += 1;
            self.seq_range = Some(match self.seq_range {
                None => (seq, seq),
                Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
            });
        }
    }

    /// Frames between the first and last seen that never arrived (0 with reordering only),
    /// over every range.
    pub fn frames_missing(&self) -> u64 {
        let now = self.seq_range.map_or(0, |(lo, hi)| {
            (u64::from(hi - lo) + 1).saturating_sub(self.range_frames)
        });
        self.missing_before + now
    }

    /// Closes the current range: frames not received from here to the next one are not
    /// counted missing.
    pub(crate) fn restart_gap_count(&mut self) {
        self.missing_before = self.frames_missing();
        self.seq_range = None;
        self.range_frames = 0;
    }
}

/// Number of histogram buckets: bucket `i` holds delays in `[2^i, 2^(i+1))` µs (bucket 0 also
/// holds 0), the last one everything from 2^23 µs (8.4 s) up.
const BUCKETS: usize = 24;

/// Summary of one-way delays in microseconds, with a power-of-two histogram for percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DelayStats {
    /// Delays recorded.
    pub count: u64,
    /// Their sum, for the mean.
    pub sum_us: u64,
    /// Smallest.
    pub min_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Sum of |delay - previous delay| over consecutive frames: the mean of it is the jitter
    /// (the variation of transit time, as RFC 3550 defines it, without its smoothing).
    pub jitter_sum_us: u64,
    /// Consecutive pairs behind `jitter_sum_us`.
    pub jitter_pairs: u64,
    /// The last delay recorded, for the next difference.
    last_us: Option<u64>,
    buckets: [u32; BUCKETS],
}

impl DelayStats {
    /// Records one delay.
    pub fn record(&mut self, delay_us: u64) {
        self.min_us = if self.count == 0 {
            delay_us
        } else {
            self.min_us.min(delay_us)
        };
        self.max_us = self.max_us.max(delay_us);
        if let Some(last) = self.last_us {
            self.jitter_sum_us += last.abs_diff(delay_us);
            self.jitter_pairs += 1;
        }
        self.last_us = Some(delay_us);
        self.count += 1;
        self.sum_us += delay_us;
        let bucket = (u64::BITS - delay_us.leading_zeros()).saturating_sub(1) as usize;
        self.buckets[bucket.min(BUCKETS - 1)] += 1;
    }

    /// Adds another stream's delays, for a summary over many streams.
    pub fn merge(&mut self, other: &DelayStats) {
        if other.count == 0 {
            return;
        }
        self.min_us = if self.count == 0 {
            other.min_us
        } else {
            self.min_us.min(other.min_us)
        };
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us += other.sum_us;
        // Each stream's first delay has no predecessor, so it adds no difference.
        self.jitter_sum_us += other.jitter_sum_us;
        self.jitter_pairs += other.jitter_pairs;
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
    }

    /// Mean variation between consecutive delays, if there were two.
    pub fn jitter(&self) -> Option<Duration> {
        (self.jitter_pairs > 0)
            .then(|| Duration::from_micros(self.jitter_sum_us / self.jitter_pairs))
    }

    /// Mean delay, if any was recorded.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.sum_us / self.count))
    }

    /// An upper bound for the `p`-th percentile (0.0..=1.0), exact to a factor of two and never
    /// above the maximum.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank && i < BUCKETS - 1 {
                let upper = (1u64 << (i + 1)) - 1;
                return Some(Duration::from_micros(upper.min(self.max_us)));
            }
        }
        // The rank lies in the open-ended last bucket.
        Some(Duration::from_micros(self.max_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_summary() {
        let mut d = DelayStats::default();
        assert_eq!(d.mean(), None);
        assert_eq!(d.percentile(0.5), None);
        for us in [100, 200, 300, 5000] {
            d.record(us);
        }
        assert_eq!((d.min_us, d.max_us, d.count), (100, 5000, 4));
        assert_eq!(d.mean(), Some(Duration::from_micros(1400)));
        // 100 is in [64, 128), 200 and 300 in [128, 512)...
        assert_eq!(d.percentile(0.25), Some(Duration::from_micros(127)));
        assert_eq!(d.percentile(0.5), Some(Duration::from_micros(255)));
        assert_eq!(d.percentile(1.0), Some(Duration::from_micros(5000)));
        // |200-100| + |300-200| + |5000-300| over 3 pairs.
        assert_eq!(d.jitter(), Some(Duration::from_micros(4900 / 3)));
    }

    #[test]
    fn merged_delays_keep_counts_and_jitter() {
        let (mut a, mut b, mut all) = Default::default();
        let (a, b, all): (&mut DelayStats, &mut DelayStats, &mut DelayStats) =
            (&mut a, &mut b, &mut all);
        a.record(100);
        a.record(300);
        b.record(50);
        b.record(60);
        all.merge(a);
        all.merge(b);
        all.merge(&DelayStats::default());
        assert_eq!((all.count, all.min_us, all.max_us), (4, 50, 300));
        assert_eq!(all.jitter(), Some(Duration::from_micros(105)));
        assert_eq!(all.percentile(1.0), Some(Duration::from_micros(300)));
    }

    #[test]
    fn zero_and_huge_delays_fit() {
        let mut d = DelayStats::default();
        d.record(0);
        d.record(u64::MAX / 2);
        // 0 shares the first bucket, [0, 2) µs.
        assert_eq!(d.percentile(0.0), Some(Duration::from_micros(1)));
        assert_eq!(d.min_us, 0);
        assert_eq!(d.percentile(1.0), Some(Duration::from_micros(u64::MAX / 2)));
    }

    #[test]
    fn stream_counts_gaps() {
        let mut s = StreamStats::default();
        let at = Duration::from_millis(3);
        s.record(at, 100, true, Some((4, 0)));
        s.record(Duration::from_millis(9), 50, false, Some((7, 2)));
        s.record(Duration::from_millis(9), 50, false, None);
        assert_eq!((s.frames, s.bytes, s.keyframes), (3, 200, 1));
        assert_eq!(s.first, Some(at));
        assert_eq!(s.seq_range, Some((4, 7)));
        assert_eq!(s.frames_missing(), 2, "5 and 6");
        assert_eq!(s.layers.frames, [1, 0, 1]);
        assert_eq!(s.layers.bytes, [100, 0, 50]);
        assert_eq!(s.layers.main_layer(), Some(2), "a tie goes to the larger");
        // Hidden from 8 to 99: those frames were never due.
        s.restart_gap_count();
        s.record(Duration::from_millis(99), 50, false, Some((100, 9)));
        s.record(Duration::from_millis(99), 50, false, Some((102, 9)));
        assert_eq!(s.frames_missing(), 3, "5, 6 and 101");
        assert_eq!(
            s.layers.frames,
            [1, 0, 3],
            "layers past the last count as the last"
        );
    }

    #[test]
    fn a_paused_camera_is_not_counted_lost() {
        let mut s = BotStats::default();
        let (p1, p2) = (s.remote_index("p1"), s.remote_index("p2"));
        let ms = Duration::from_millis;
        s.remotes[p1].video.record(ms(0), 10, true, Some((0, 0)));
        s.remotes[p2].video.record(ms(0), 10, true, Some((0, 0)));
        s.handle_bandwidth(ms(100), &["p1".into()], true);
        // Frames 1..=29 of p1 were never sent; p2 lost two on the way.
        s.remotes[p1]
            .video
            .record(ms(1000), 10, true, Some((30, 0)));
        s.remotes[p2]
            .video
            .record(ms(1000), 10, false, Some((3, 0)));
        s.handle_bandwidth(ms(900), &[], false);
        assert_eq!(s.remotes[p1].video.frames_missing(), 0);
        assert_eq!(s.remotes[p2].video.frames_missing(), 2);
        let r = &s.remotes[p1];
        assert_eq!((r.pauses, r.paused_for, r.paused_since), (1, ms(800), None));
        assert_eq!(s.bandwidth.len(), 2);
        assert_eq!(s.bandwidth[0].paused, ["p1"]);
        assert!(s.bandwidth[0].limited && !s.bandwidth[1].limited);
    }

    #[test]
    fn frames_sent_before_a_pause_and_arriving_after_its_end_are_not_a_gap() {
        let mut s = BotStats::default();
        let p = s.remote_index("p");
        let ms = Duration::from_millis;
        let frame = |s: &mut BotStats, at, key, seq| {
            s.remotes[p].video.record(ms(at), 10, key, Some((seq, 0)));
        };
        frame(&mut s, 0, true, 0);
        // Paused and resumed within 80 ms, while frames 1..=5, sent before the pause, were
        // still in a queue; the server resumes at its keyframe 20.
        s.handle_bandwidth(ms(100), &["p".into()], true);
        frame(&mut s, 150, false, 2);
        s.handle_bandwidth(ms(180), &[], false);
        frame(&mut s, 190, true, 3);
        frame(&mut s, 210, false, 5);
        frame(&mut s, 400, true, 20);
        assert_eq!(s.remotes[p].video.frames_missing(), 1, "frame 4 only");
        // Paused again, and the resumed keyframe comes before the message that says so.
        s.handle_bandwidth(ms(500), &["p".into()], true);
        frame(&mut s, 550, false, 21);
        frame(&mut s, 700, true, 40);
        s.handle_bandwidth(ms(720), &[], false);
        frame(&mut s, 740, false, 41);
        frame(&mut s, 780, false, 43);
        assert_eq!(
            s.remotes[p].video.frames_missing(),
            2,
            "and 42 after the resume"
        );
        // Paused and resumed; a gap that ends at a frame that is not a keyframe: lost.
        s.handle_bandwidth(ms(800), &["p".into()], true);
        frame(&mut s, 820, false, 44);
        s.handle_bandwidth(ms(850), &[], false);
        frame(&mut s, 860, false, 45);
        frame(&mut s, 900, false, 48);
        assert_eq!(s.remotes[p].video.frames_missing(), 4, "and 46, 47");
    }

    #[test]
    fn a_tile_change_restarts_what_it_counts() {
        let mut r = RemoteStats::default();
        let big = Tile {
            width: 1280,
            height: 720,
        };
        let at = Duration::from_secs(1);
        r.video.record(at, 10, true, Some((0, 2)));
        r.video.record(at, 10, false, Some((2, 2)));
        r.since_tile.record(2, 10);
        r.handle_tile(Some(big), at);
        assert_eq!((r.tile, r.tile_since, r.shown), (Some(big), Some(at), true));
        assert_eq!(r.since_tile, LayerCounts::default());
        assert_eq!(
            r.video.frames_missing(),
            1,
            "shown: a new range, the old gap kept"
        );
        assert_eq!(r.video.seq_range, None);
        r.since_tile.record(2, 10);
        r.handle_tile(Some(big), Duration::from_secs(2));
        assert_eq!(
            r.since_tile.total_frames(),
            1,
            "the same tile changes nothing"
        );
        r.handle_tile(None, Duration::from_secs(3));
        assert!(r.shown && r.tile.is_none());
        assert_eq!(r.tile_since, Some(Duration::from_secs(3)));
    }

    #[test]
    fn remotes_are_added_once() {
        let mut stats = BotStats::default();
        assert_eq!(stats.remote_index("p1"), 0);
        assert_eq!(stats.remote_index("p2"), 1);
        assert_eq!(stats.remote_index("p1"), 0);
        stats.remotes[1].audio.frames = 1;
        assert!(!stats.has_media_from("p2"));
        stats.remotes[1].video.frames = 1;
        assert!(stats.has_media_from("p2"));
        assert!(!stats.has_media_from("p3"));
    }
}
