//! The media section of a report: what the subscribers received, its loss (audio and video
//! apart), delay and jitter, and per tile size which simulcast layer came and at what bitrate,
//! so a run shows that thumbnails get the small layer, the stage the large one and hidden
//! tiles nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{Dist, Joined, ms};
use crate::media::{LAYER_SIZES, RIDS};
use crate::stats::{BotStats, DelayStats, MAX_LAYERS, RemoteStats};
use crate::view::layer_for;

/// A tile must have stood this long before its bitrate counts: switching layers waits for a
/// keyframe, and the first second after a switch carries one.
const TILE_SETTLED: Duration = Duration::from_secs(2);

/// Media as the subscribers received it.
#[derive(Debug, Clone, Serialize)]
pub struct MediaReport {
    /// Bots expected to receive (joined, with a publisher in the room besides themselves).
    pub subscribers: usize,
    /// (subscriber, publisher) pairs expected to carry media: a publisher's video counts
    /// only where the subscriber's page showed it.
    pub pairs: usize,
    /// Of those, pairs where a track of the publisher never arrived, or stopped before the
    /// end while still due.
    pub pairs_without_media: usize,
    /// Received bitrate per subscriber, kbit/s, from its first frame (or its latest join) to
    /// the end.
    pub bitrate_kbps: Dist,
    /// Frames missing per subscriber (gaps in the senders' frame numbers), percent.
    pub loss_percent: Dist,
    /// Frames missing over all subscribers, percent.
    pub loss_percent_total: f64,
    /// Of those, video frames missing over all video frames, percent.
    pub loss_percent_video: f64,
    /// Audio frames missing over all audio frames, percent.
    pub loss_percent_audio: f64,
    /// Mean variation of one-way delay between consecutive frames per subscriber, ms.
    pub jitter_ms: Dist,
    /// One-way delay send stamp -> receive, over all frames (bots share the clock), ms: what
    /// the SFU and this machine's scheduling add.
    pub delay_ms: DelayReport,
    /// Per tile size the subscribers' pages showed cameras at (their latest `view`), what
    /// they received; largest tiles first, then cameras not shown, then pages without views.
    pub tiles: Vec<TileReport>,
    /// Times the server paused a camera a page showed, for want of bandwidth (`bandwidth`),
    /// all pairs. Frames a paused camera did not send are not counted lost.
    pub video_pauses: u64,
    /// How long those cameras stayed paused in all, pair-seconds (to the run's end for
    /// pauses still on).
    pub video_paused_s: f64,
}

/// A delay summary over all frames.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DelayReport {
    /// Frames measured.
    pub frames: u64,
    /// Mean.
    pub mean: Option<f64>,
    /// Median (upper bound, within a factor of two).
    pub p50: Option<f64>,
    /// 99th percentile (upper bound, within a factor of two).
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

/// What the cameras shown at one tile size (or not shown) delivered since the tile was set.
#[derive(Debug, Clone, Serialize)]
pub struct TileReport {
    /// `1280x720`, `not shown`, or `no view` (a page that never sent one: the server's
    /// default, the middle layer).
    pub tile: String,
    /// The layer a tile of this size calls for among the page's layer sizes (`q`, `h`, `f`);
    /// `-` for cameras not shown or without a view.
    pub wants: &'static str,
    /// (subscriber, camera) pairs, the camera simulcast.
    pub pairs: usize,
    /// Of those, pairs whose video since the tile was set came mostly from the layer it calls
    /// for.
    pub on_wanted_layer: usize,
    /// Video frames received since the tile was set, per layer `q`, `h`, `f`, all pairs.
    pub frames_by_layer: [u64; MAX_LAYERS],
    /// Video bitrate per pair over the steady window (the joins' keyframe requests are over),
    /// or since the tile was set if that was later (and at least 2 s before the end), kbit/s.
    pub kbps: Dist,
}

/// Collects media figures over subscribers.
#[derive(Default)]
pub(super) struct MediaAcc {
    subscribers: usize,
    pairs: usize,
    pairs_without_media: usize,
    bitrate: Vec<f64>,
    loss: Vec<f64>,
    jitter: Vec<f64>,
    /// Frames and frames missing, audio then video.
    frames: [u64; 2],
    missing: [u64; 2],
    delay: DelayStats,
    video_pauses: u64,
    video_paused: Duration,
    /// Per tile key (see [`tile_key`]): pairs, pairs on the wanted layer, frames by layer,
    /// bitrates.
    tiles: BTreeMap<(u8, u32, u32), TileAcc>,
}

#[derive(Default)]
struct TileAcc {
    pairs: usize,
    on_wanted: usize,
    frames: [u64; MAX_LAYERS],
    kbps: Vec<f64>,
}

impl MediaAcc {
    pub(super) fn finish(self) -> MediaReport {
        let percent = |missing: u64, frames: u64| {
            let total = frames + missing;
            if total == 0 {
                0.0
            } else {
                missing as f64 * 100.0 / total as f64
            }
        };
        let d = &self.delay;
        let to_ms = |d: Option<Duration>| d.map(ms);
        MediaReport {
            subscribers: self.subscribers,
            pairs: self.pairs,
            pairs_without_media: self.pairs_without_media,
            bitrate_kbps: Dist::of(self.bitrate),
            loss_percent: Dist::of(self.loss),
            loss_percent_total: percent(self.missing.iter().sum(), self.frames.iter().sum()),
            loss_percent_audio: percent(self.missing[0], self.frames[0]),
            loss_percent_video: percent(self.missing[1], self.frames[1]),
            jitter_ms: Dist::of(self.jitter),
            delay_ms: DelayReport {
                frames: d.count,
                mean: to_ms(d.mean()),
                p50: to_ms(d.percentile(0.5)),
                p99: to_ms(d.percentile(0.99)),
                max: (d.count > 0).then(|| d.max_us as f64 / 1e3),
            },
            tiles: self.tiles.into_iter().map(tile_report).collect(),
            video_pauses: self.video_pauses,
            video_paused_s: self.video_paused.as_secs_f64(),
        }
    }
}

/// Sorts tiles largest first, then `not shown`, then `no view`.
fn tile_key(s: &BotStats, r: &RemoteStats) -> (u8, u32, u32) {
    match (s.views_sent > 0, r.tile) {
        (true, Some(t)) => (0, u32::MAX - t.height, u32::MAX - t.width),
        (true, None) => (1, 0, 0),
        (false, _) => (2, 0, 0),
    }
}

fn tile_report(((group, h, w), acc): ((u8, u32, u32), TileAcc)) -> TileReport {
    let (tile, wants) = match group {
        0 => {
            let (width, height) = (u32::MAX - w, u32::MAX - h);
            let heights = LAYER_SIZES.map(|(_, h)| u32::from(h));
            let rid = RIDS[layer_for(&heights, height)];
            (format!("{width}x{height}"), rid)
        }
        1 => ("not shown".to_owned(), "-"),
        _ => ("no view".to_owned(), "-"),
    };
    TileReport {
        tile,
        wants,
        pairs: acc.pairs,
        on_wanted_layer: acc.on_wanted,
        frames_by_layer: acc.frames,
        kbps: Dist::of(acc.kbps),
    }
}

/// A publisher's sound due to the end (its publisher still there, its microphone on) whose
/// latest frame came longer than this before it has stopped: the gaps between the frames
/// received cannot show the frames that never came after them. Sound only: a video may be
/// hidden or paused near the end, and its keyframe still on its way. Generous, for the bot's
/// clock (it starts a little after its planned start) and a last answer a few samples old.
const STOPPED_BEFORE_END: Duration = Duration::from_secs(5);

/// Adds one subscriber's media; returns how many publishers it got nothing (on some track)
/// from, or whose sound stopped before the end while still due. `end` is the end of the run
/// on the subscriber's clock, `steady` its stats when the steady window began and when that
/// was on its clock.
pub(super) fn record_media(
    s: &BotStats,
    steady: Option<(Duration, &BotStats)>,
    publishers: &[&Joined],
    end: Duration,
    acc: &mut MediaAcc,
) -> usize {
    acc.subscribers += 1;
    let (mut bytes, mut frames, mut missing, mut without) = (0u64, 0u64, 0u64, 0);
    let mut delay = DelayStats::default();
    for p in publishers {
        acc.pairs += 1;
        let remote = s.remote(p.id);
        let video = p.plan.media.video.is_some();
        // A camera the page never showed was rightly never sent, nor one the server said it
        // paused for want of bandwidth (the page says so on the tile; counted in pauses).
        let paused_throughout = remote.is_some_and(|r| r.pauses > 0 && r.video.frames == 0);
        let video_due =
            video && (s.views_sent == 0 || remote.is_some_and(|r| r.shown)) && !paused_throughout;
        let streams = [
            (p.plan.media.audio, remote.map(|r| &r.audio)),
            (video_due, remote.map(|r| &r.video)),
        ];
        // Sound still due at the end: the publisher did not leave, its microphone is on.
        let gone = remote.is_some_and(|r| r.left.is_some());
        let muted = remote.is_some_and(|r| r.participant.as_ref().is_some_and(|p| !p.audio));
        let mut ok = true;
        for (kind, (expected, stream)) in streams.into_iter().enumerate() {
            let Some(stream) = stream.filter(|_| expected) else {
                ok &= !expected;
                continue;
            };
            ok &= stream.frames > 0;
            let due_at_end = kind == 0 && !gone && !muted;
            let stopped = stream
                .last
                .is_some_and(|l| end.saturating_sub(l) > STOPPED_BEFORE_END);
            ok &= !(due_at_end && stopped);
            bytes += stream.bytes;
            frames += stream.frames;
            missing += stream.frames_missing();
            acc.frames[kind] += stream.frames;
            acc.missing[kind] += stream.frames_missing();
            delay.merge(&stream.delay);
        }
        without += usize::from(!ok);
        let simulcast = p
            .plan
            .media
            .video
            .is_some_and(|v| v.encodings.is_simulcast());
        if let Some(r) = remote.filter(|_| simulcast) {
            let before = steady.and_then(|(at, st)| Some((at, st.remote(p.id)?)));
            record_tile(s, r, before, end, acc);
        }
    }
    acc.pairs_without_media += without;
    // A bot that rejoined counts its remotes' bytes from its latest join.
    let from = s.first_media.max(s.presences.last().map(|p| p.joined));
    let window = from.map_or(Duration::ZERO, |f| end.saturating_sub(f));
    if !window.is_zero() {
        acc.bitrate
            .push(bytes as f64 * 8.0 / window.as_secs_f64() / 1e3);
    }
    if frames + missing > 0 {
        acc.loss
            .push(missing as f64 * 100.0 / (frames + missing) as f64);
    }
    acc.jitter.extend(delay.jitter().map(ms));
    acc.delay.merge(&delay);
    for r in &s.remotes {
        acc.video_pauses += u64::from(r.pauses);
        let open = r
            .paused_since
            .map_or(Duration::ZERO, |p| end.saturating_sub(p));
        acc.video_paused += r.paused_for + open;
    }
    without
}

/// Adds what a simulcast camera delivered to one subscriber since its tile was set, and its
/// bitrate since `before` (when the steady window began, and the remote then) if the tile
/// has not changed since.
fn record_tile(
    s: &BotStats,
    r: &RemoteStats,
    before: Option<(Duration, &RemoteStats)>,
    end: Duration,
    acc: &mut MediaAcc,
) {
    let t = acc.tiles.entry(tile_key(s, r)).or_default();
    t.pairs += 1;
    let counts = if s.views_sent > 0 {
        r.since_tile
    } else {
        r.video.layers
    };
    for (sum, n) in t.frames.iter_mut().zip(counts.frames) {
        *sum += n;
    }
    if let Some(tile) = r.tile.filter(|_| s.views_sent > 0) {
        let heights = LAYER_SIZES.map(|(_, h)| u32::from(h));
        let wants = layer_for(&heights, tile.height);
        t.on_wanted += usize::from(counts.main_layer() == Some(wants));
    }
    let since = r.tile_since.filter(|_| s.views_sent > 0).or(r.video.first);
    let (from, bytes) = match before {
        // The same tile then: count from then.
        Some((at, b)) if b.tile_since == r.tile_since && since.is_some_and(|s| s <= at) => {
            let then = if s.views_sent > 0 {
                b.since_tile
            } else {
                b.video.layers
            };
            (Some(at), counts.total_bytes() - then.total_bytes())
        }
        _ => (since, counts.total_bytes()),
    };
    let stood = from.map_or(Duration::ZERO, |f| end.saturating_sub(f));
    if stood >= TILE_SETTLED && counts.total_frames() > 0 {
        let kbps = bytes as f64 * 8.0 / stood.as_secs_f64() / 1e3;
        t.kbps.push(kbps);
    }
}
