//! Which layer of which video each subscriber gets: the bandwidth allocator.
//!
//! Sans-IO and pure. Inputs: what a subscriber's link can take (the send-side estimate of its
//! subscribe connection), its share of the server's and the room's egress budget, and for each
//! video it could receive, what it is (a host's camera, a screen share, the active speaker's
//! camera, another camera), how large its page shows it, and the layers its publisher sends.
//! Output: a layer or "paused" per video.
//!
//! The order a lesson needs (docs/architecture.md, "Bandwidth adaptation"):
//! - audio is never cut: it is taken off the top of the estimate before any video;
//! - below [`AUDIO_ONLY_BELOW`] a subscriber gets no video at all, and video comes back only
//!   above [`VIDEO_BACK_ABOVE`];
//! - first the host's camera and any screen share, at the layer their tiles call for as far as
//!   the budget goes;
//! - then every other shown video gets its lowest layer, the active speaker first, then the
//!   other cameras, larger tiles first; what does not fit is paused, so the least important
//!   video is paused first;
//! - then what is left raises those videos one layer at a time, in turns, towards the layer
//!   their tiles call for. So under pressure the other cameras come down first, then they are
//!   paused, and the host's camera comes down last;
//! - a screen share has one layer: it is never lowered in resolution. When it does not fit,
//!   what is left after the other host videos' lowest layers goes to it as a *cap* (at least
//!   [`SCREEN_FLOOR`]): its publisher is asked to send it at no more than that (the browser
//!   keeps the resolution of screen content and lowers the frame rate). Where that leaves it
//!   less than the floor, the host videos shown smaller than it, or cameras as large (the
//!   teacher's camera beside her slides), are paused to make way, least important first, with
//!   hysteresis both ways; below the floor on its own it is paused.
//! - a host's camera sent in simulcast does the same with its lowest layer: when even that
//!   does not fit, what is left goes to it as a cap at its publisher (at least
//!   [`CAMERA_FLOOR`]) rather than pausing the teacher's picture. Only the lowest layer, which
//!   only thin links and small tiles take, is capped: the others' layers stay as they are.
//!
//! Hysteresis: a video keeps its current layer while the total fits the budget, but is raised
//! only if the raised total fits with [`UPGRADE_HEADROOM`] to spare, and not within
//! [`UPGRADE_HOLD`] of being lowered. So a noisy estimate moves layers down at once (the link
//! is full now) and up only when the room is clearly there. A raise that takes a layer from
//! another video ([`Allocation::takes_from_others`]) is made again by the caller on what the
//! link has sustained (crate::sustained).

use std::time::Duration;

use crate::api::Source;

/// Below this budget (bit/s; a link's is [`LINK_SHARE`] of its estimate) a subscriber gets
/// audio only: 100 kbit/s is about what the lowest camera layer and two Opus streams need,
/// and a link this weak is better spent on hearing the teacher.
pub const AUDIO_ONLY_BELOW: u64 = 100_000;
/// Video comes back only above this, so a link hovering at the threshold does not toggle.
pub const VIDEO_BACK_ABOVE: u64 = 150_000;
/// What an audio stream costs at least, reserved before any video: Opus at a browser's
/// default voice rate (about 32 kbit/s) plus RTP/SRTP/UDP/IP overhead (70 bytes) at 50 packets
/// a second. A stream measured to send more is reserved at what it sends.
pub const AUDIO_BITRATE: u64 = 60_000;
/// A raised layer must fit with this fraction of the budget to spare.
pub const UPGRADE_HEADROOM: f64 = 0.15;
/// A layer a video has now is kept while the total is at most this fraction over the budget:
/// GCC keeps its estimate near what is sent, and a layer's measured rate wobbles by a few
/// percent from one half second to the next; without it a video on a perfect link was paused
/// at the first wobble (seen in the browser tests).
pub const KEEP_TOLERANCE: f64 = 0.10;
/// A video lowered this recently is not raised again: GCC's estimate swings by a fifth within
/// a few seconds on a busy Wi-Fi; raising back at once would switch layers every few seconds.
pub const UPGRADE_HOLD: Duration = Duration::from_secs(5);
/// How long a host's video given a layer again after a pause goes first: the other paused
/// videos come back only once it flows, or after this. A layer paused at its source takes a
/// signaling round trip, the encoder's start and a keyframe through the link (1.6 s in the
/// impair run, where the thumbnails' one-packet keyframes came first and the teacher's tile
/// stayed blank while theirs played); a publisher that never sends again does not hold the
/// others for longer than this.
pub const FIRST_WAIT: Duration = Duration::from_secs(3);

/// Loss on a subscriber's own link from which its budget is lowered and its link no longer
/// padded: less is a Wi-Fi's random loss; more, seen in the impair run, is a standing queue
/// at the bottleneck that GCC's delay-based estimate no longer sees (the delay is at its
/// maximum and flat), with retransmissions on top of the media making it worse.
pub const LOSS_FROM: f32 = 0.02;

/// The least a screen share is sent at when capped: a slide at a frame or two a second. Below
/// this it is paused instead.
pub const SCREEN_FLOOR: u64 = 150_000;

/// The least a host's camera's lowest layer is sent at when capped, on the wire: a 180p
/// picture at about half its usual rate, blurred but a face. Below this it is paused instead.
pub const CAMERA_FLOOR: u64 = 60_000;

/// How important a video is to the lesson; lower is more important.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A host's camera or any screen share.
    Host = 0,
    /// The active speaker's camera.
    Speaker = 1,
    /// Every other camera.
    Other = 2,
}

impl Priority {
    pub fn of(source: Source, host: bool, speaker: bool) -> Priority {
        match (source, host, speaker) {
            (Source::Screen, _, _) | (_, true, _) => Priority::Host,
            (_, _, true) => Priority::Speaker,
            _ => Priority::Other,
        }
    }
}

/// One layer a publisher offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Its index in the up track (smallest first).
    pub index: u8,
    pub height: u32,
    /// What it sends, in bit/s (measured, or its nominal rate before it has been measured).
    pub bitrate: u64,
}

/// One video a subscriber could receive.
#[derive(Debug, Clone)]
pub struct Video {
    pub priority: Priority,
    /// How high its tile is shown, in device pixels; `None`: not shown.
    pub shown: Option<u32>,
    /// The layers it can have now, smallest first (empty: its publisher sends nothing).
    pub layers: Vec<Layer>,
    /// The layer it gets now (`None`: none, or paused).
    pub current: Option<u8>,
    /// It was lowered or paused less than [`UPGRADE_HOLD`] ago.
    pub held: bool,
    /// A screen share: one layer, whose rate its publisher can cap (see [`SCREEN_FLOOR`]).
    pub screen: bool,
    /// Its publisher was found sending well over a cap it was told: it is not capped (see
    /// `crate::room::adapt`, `CAP_DISTRUST`), so it is paused where it does not fit.
    pub cap_ignored: bool,
    /// It is paused now for want of bandwidth (not hidden).
    pub paused: bool,
    /// Given a layer again after a pause less than [`FIRST_WAIT`] ago, and nothing of it
    /// forwarded yet: its publisher's keyframe (and, for a layer paused at the source, the
    /// encoding itself) is still on its way.
    pub waiting: bool,
}

impl Video {
    /// The position in `layers` of the one its tile calls for: the smallest at least as high
    /// as the tile, else the largest.
    fn ideal(&self) -> Option<usize> {
        let shown = self.shown?;
        let last = self.layers.len().checked_sub(1)?;
        Some(
            self.layers
                .iter()
                .position(|l| l.height >= shown)
                .unwrap_or(last),
        )
    }

    /// The layer index its tile calls for, bandwidth aside (`None`: not shown, or nothing).
    pub fn ideal_layer(&self) -> Option<u8> {
        self.ideal().map(|p| self.layers[p].index)
    }

    /// The least it may be capped at its publisher instead of paused, if it can be: a screen
    /// share's one layer, or a host's simulcast camera's lowest (its first encoding). A camera
    /// with one encoding is not capped: everyone takes that one.
    fn cap_floor(&self) -> Option<u64> {
        if self.cap_ignored {
            None
        } else if self.screen {
            Some(SCREEN_FLOOR)
        } else if self.priority == Priority::Host
            && self.layers.len() > 1
            && self.layers[0].index == 0
        {
            Some(CAMERA_FLOOR)
        } else {
            None
        }
    }

    /// Whether taking layer `pos` keeps it at or below the layer it has now (not a raise).
    fn keeps(&self, pos: usize) -> bool {
        self.position_of(self.current).is_some_and(|now| pos <= now)
    }

    /// Whether it is paused to let `other`, more important in its group, be capped rather than
    /// paused: shown smaller, or a camera shown as large as a screen share (the slides are
    /// the lesson).
    fn makes_way_for(&self, other: &Video) -> bool {
        self.shown < other.shown || (self.shown == other.shown && other.screen && !self.screen)
    }

    fn position_of(&self, index: Option<u8>) -> Option<usize> {
        self.layers.iter().position(|l| Some(l.index) == index)
    }

    /// What taking layer `pos` costs against the budget: its rate, and more if it is a raise.
    /// A host's camera or a screen share, paused, comes back as soon as its lowest layer fits,
    /// without the headroom: what keeps it from flapping is the tolerance it is kept with.
    /// (Not where it takes the place of another host video, or gives one back: see the cap
    /// pass of [`allocate_capped`].)
    fn cost(&self, pos: usize) -> f64 {
        let rate = self.layers[pos].bitrate as f64;
        let back = self.position_of(self.current).is_none();
        if self.keeps(pos) {
            rate / (1.0 + KEEP_TOLERANCE)
        } else if back && pos == 0 && self.priority == Priority::Host {
            rate
        } else {
            rate * (1.0 + UPGRADE_HEADROOM)
        }
    }
}

/// What the allocator decided for one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Per video, in the order given: the layer index it gets, or `None`.
    pub layers: Vec<Option<u8>>,
    /// Per video: shown, but paused for want of bandwidth.
    pub paused: Vec<bool>,
    /// Per video: the bit/s on the wire a screen share, or a host camera's lowest layer, must
    /// be capped at to fit (`None`: no cap needed).
    pub caps: Vec<Option<u64>>,
    /// The bit/s the chosen layers and the audio send.
    pub used: u64,
    /// The bit/s every shown video at its ideal layer would need, with the audio: what the
    /// congestion controller should probe towards.
    pub wanted: u64,
    /// The bit/s the next step up would need (a video raised one layer, or a paused one back
    /// at its lowest), if there is one: what to pad towards so the estimate can get there.
    pub next_step: Option<u64>,
    /// The audio-only state after this decision (give it back next time).
    pub audio_only: bool,
}

impl Allocation {
    /// Whether padding may look for room for the next step up: only on a subscriber's own
    /// link (`link_bound`: not its share of a budget, which padding would overrun), not
    /// losing [`LOSS_FROM`] or more, with video to step up to, and with no video capped at
    /// its publisher. A capped video already fills what the estimate leaves
    /// ([`link_share`]) and its cap rises with the estimate; padding on top ran the impair
    /// run's 600 kbit/s link 50–100 kbit/s over it (docs/benchmarks.md, "No padding beside a
    /// capped video").
    pub fn looks_for_room(&self, link_bound: bool, loss: f32) -> bool {
        link_bound
            && !self.audio_only
            && self.next_step.is_some()
            && self.caps.iter().all(Option::is_none)
            && loss < LOSS_FROM
    }

    /// Whether it takes a layer from one video to raise another: some video that has a layer
    /// is raised while another that had one is lowered or paused below what its tile calls
    /// for (`guessed`: per video, its rate is not measured yet, so it is not paused, see
    /// crate::room::adapt). Made at a peak of the estimate and undone at the next trough, such
    /// a raise pauses a pupil's thumbnails and gives them back every few seconds; so the
    /// caller makes it again on what the link has sustained (crate::sustained). A video given
    /// a layer it did not have (a new tile, a screen share that starts, one back from a
    /// pause) is not a raise here: held back to the trough, a new host video could only be
    /// capped at its publisher or paused.
    pub fn takes_from_others(&self, videos: &[Video], guessed: &[bool]) -> bool {
        let changes = || videos.iter().zip(&self.layers).zip(guessed);
        let raised = changes().any(|((v, new), _)| v.current.is_some() && *new > v.current);
        let taken = changes().any(|((v, new), guessed)| {
            let short = v.ideal_layer().is_some_and(|i| new.is_none_or(|n| n < i));
            short && !guessed && v.current.is_some() && *new < v.current
        });
        raised && taken
    }
}

/// What a subscriber whose link lost `loss` of the packets (its latest receiver reports) may
/// be sent: its estimate less the share lost, from [`LOSS_FROM`] on. The queue drains, and
/// once the loss stops it is the estimate again.
pub fn within_loss(estimate: u64, loss: f32) -> u64 {
    if loss < LOSS_FROM {
        return estimate;
    }
    (estimate as f64 * (1.0 - f64::from(loss.min(0.5)))).round() as u64
}

/// What every shown video at the layer its tile calls for, and the audio, would send (bit/s).
pub fn wanted(audio: u64, videos: &[Video]) -> u64 {
    audio
        + videos
            .iter()
            .filter_map(|v| v.ideal().map(|i| v.layers[i].bitrate))
            .sum::<u64>()
}

/// The share of a subscriber's link estimate its media may fill: layers, caps at publishers
/// and padding alike. str0m's GCC counts packets as the link carries them (vendor/str0m,
/// AULA.md), and on a drop-tail bottleneck its delay detector does not see a queue that grows
/// by a few percent of the link a second: filled to the estimate itself, the impair run's
/// links kept a queue of 100-300 ms standing, with 1-5 % dropped (docs/architecture.md,
/// "GCC counts what the link carries"). str0m pads until what it sends reaches the `minimum`
/// it is told, never past its estimate: padded to the estimate itself, a link of six voices
/// ran a twentieth over its capacity with its queue full.
pub const LINK_SHARE: f64 = 0.9;

/// What a subscriber's media may fill of its link: [`LINK_SHARE`] of GCC's `estimate`.
pub fn link_share(estimate: u64) -> u64 {
    (estimate as f64 * LINK_SHARE) as u64
}

/// How far above what a link has shown a raise may take a subscriber's total, while its
/// estimate stands above what GCC could have reached by itself ([`PROBED_ABOVE`]).
pub const STEP_ABOVE_CARRIED: f64 = 0.25;

/// The least step the ceiling allows, bit/s: a lowest layer measured high (180 kbit/s) with
/// its headroom, so a video comes back at once on a link that carried only voices for a
/// while (a tile hidden and shown again; a publisher whose media stopped and came back),
/// rather than a quarter of the voices' rate at a time.
pub const STEP_LEAST: u64 = 250_000;

/// GCC raises its estimate by itself to at most one and a half times the rate it has seen
/// acknowledged (and 10 kbit/s): an estimate above that came from a probe's short burst.
pub const PROBED_ABOVE: f64 = 1.5;

/// The total a raise may take a subscriber's layers to: while its `estimate` stands more
/// than [`PROBED_ABOVE`] times over what its link has shown (the larger of what it carried
/// lately, `carried`, by transport-wide feedback, and what is allocated now, `allocated`),
/// [`STEP_ABOVE_CARRIED`] above that, or
/// [`STEP_LEAST`] if that is more; otherwise no ceiling (`u64::MAX`).
///
/// A probe's short burst puts the estimate well above what is sent (0.65 to 2.2 Mbit/s on
/// the impair run's 2.5 Mbit/s link). The layers raised to it at once (the teacher's from
/// the lowest to the highest, the paused thumbnails back, each with a keyframe) met a
/// delay-based overuse within 400 ms, and GCC then falls to 85 % of the rate it has seen
/// acknowledged, which was still the rate from before the step: 0.4-0.73 Mbit/s, every
/// video but the teacher's lowest layer paused, and held for [`UPGRADE_HOLD`]. Raised by
/// steps that padding has filled first ([`crate::padding`]), a fall after a step lands near
/// the step. Where GCC climbed by itself the estimate is what the link has shown, and the
/// steps it allows are no jump: a ceiling there held a 1 Mbit/s link below a thumbnail's
/// step that its estimate, pinned at 1.5 times what was sent, never reached
/// (`a_link_that_opens_up_is_climbed_in_steps_that_hold`, 3 of some 50 runs).
pub fn step_ceiling(estimate: u64, carried: u64, allocated: u64) -> u64 {
    let shown = carried.max(allocated) as f64;
    if estimate as f64 <= shown * PROBED_ABOVE {
        return u64::MAX;
    }
    ((shown * (1.0 + STEP_ABOVE_CARRIED)) as u64).max(shown as u64 + STEP_LEAST)
}

/// What the layers would total if the `ceiling` did not hold them back (`unbounded`: the same
/// [`allocate_capped`] without it), when that is more than `allocated` (what it chose under
/// the ceiling within the `budget`); `None` when the ceiling changes nothing. The padding
/// that lifts the ceiling aims there.
///
/// The next step up ([`Allocation::next_step`]) is one video raised one layer beside the
/// others as they are. Under a ceiling that is not always the raise the estimate allows: in
/// the impair run's 2.5 Mbit/s phase the estimate (2.09 Mbit/s) had room for the teacher's
/// 720p layer if her students' thumbnails made way for it (host first), but not beside them.
/// So no step fitted the estimate, padding came only in windows that ended when the estimate
/// stopped rising, and the estimate stayed pinned at one and a half times the rate
/// acknowledged, with the teacher at 360p for the phase (media utilization 0.62, one run).
pub fn held_by_ceiling(
    ceiling: u64,
    budget: u64,
    allocated: u64,
    unbounded: impl FnOnce() -> Allocation,
) -> Option<u64> {
    if ceiling >= budget {
        return None;
    }
    let free = unbounded();
    (free.used > allocated).then_some(free.used)
}

/// [`allocate_capped`] with no ceiling on raises.
#[cfg(test)]
fn allocate(budget: u64, audio: u64, videos: &[Video], audio_only: bool) -> Allocation {
    allocate_capped(budget, u64::MAX, audio, videos, audio_only)
}

/// What the chosen layers send (bit/s): a capped one at its cap.
fn taken(videos: &[Video], chosen: &[Option<usize>], caps: &[Option<u64>]) -> u64 {
    chosen
        .iter()
        .zip(videos)
        .zip(caps)
        .filter_map(|((c, v), cap)| c.map(|p| cap.unwrap_or(v.layers[p].bitrate)))
        .sum()
}

/// Decides the layers of one subscriber's videos.
///
/// `budget`: bit/s this subscriber may receive ([`LINK_SHARE`] of its estimate, less its
/// loss, lowered to its share of the server's and the room's budget); `ceiling`: the total
/// no raise may take the chosen layers over, whatever the budget (see [`step_ceiling`];
/// keeping a layer is not a raise); `audio`: what the audio streams it receives send
/// (bit/s); `audio_only`: whether the last decision was audio-only (for the hysteresis).
pub fn allocate_capped(
    budget: u64,
    ceiling: u64,
    audio: u64,
    videos: &[Video],
    audio_only: bool,
) -> Allocation {
    let wanted = wanted(audio, videos);
    let audio_only = if audio_only {
        budget < VIDEO_BACK_ABOVE
    } else {
        budget < AUDIO_ONLY_BELOW
    };
    let mut chosen: Vec<Option<usize>> = vec![None; videos.len()];
    let mut caps: Vec<Option<u64>> = vec![None; videos.len()];
    let mut left = budget.saturating_sub(audio) as f64;
    // What raises may still take under the ceiling: the same costs come off it.
    let mut room = ceiling.saturating_sub(audio) as f64;
    if !audio_only {
        let order = importance_order(videos);
        let (hosts, rest): (Vec<usize>, Vec<usize>) = order
            .into_iter()
            .partition(|&i| videos[i].priority == Priority::Host);
        // The host's camera and screen shares first, as good as their tiles call for; then
        // every other shown video its lowest layer, then raised in turns. Nobody else's video
        // while a host's shown video is paused: a student's smaller layer may fit where the
        // teacher's does not, and the teacher must not be the one missing.
        // A host's video coming back from a pause goes first: the others paused stay so until
        // it flows (see [`FIRST_WAIT`]).
        let mut host_waiting = false;
        for group in [hosts, rest] {
            for &i in &group {
                let v = &videos[i];
                // One paused a moment ago stays paused for the hold, like one lowered; a
                // host's comes back as soon as it fits.
                let held_off =
                    (v.held || host_waiting) && v.current.is_none() && v.priority != Priority::Host;
                if v.ideal().is_none() || held_off {
                    continue;
                }
                let cost = v.cost(0);
                if cost <= left && (v.keeps(0) || cost <= room) {
                    left -= cost;
                    room -= cost;
                    chosen[i] = Some(0);
                }
            }
            // A screen share or a host's camera that did not fit whole gets what is left (at
            // the rates really sent, hysteresis aside), capped at the source; the videos of
            // its group that make way for it (see [`Video::makes_way_for`]) are paused where
            // that lets it be capped.
            for (k, &i) in group.iter().enumerate() {
                let v = &videos[i];
                let Some(floor) = v.cap_floor() else { continue };
                if chosen[i].is_some() || v.ideal().is_none() {
                    continue;
                }
                // A camera has a wide band: capped, it fills what is left, and GCC's estimate
                // wobbles by more than a tenth around what is sent. (A screen share's floor is
                // already twice a camera's.)
                let need = match (v.screen, v.current) {
                    (true, _) => floor as f64,
                    (false, Some(_)) => (floor * 3 / 4) as f64,
                    (false, None) => floor as f64 * (1.0 + UPGRADE_HEADROOM),
                };
                let yielding: Vec<usize> = group[k + 1..]
                    .iter()
                    .copied()
                    .filter(|&j| chosen[j].is_some() && videos[j].makes_way_for(v))
                    .collect();
                let mut tried = chosen.clone();
                for &j in &yielding {
                    tried[j] = None;
                }
                // What the others leave, and then those that make way kept back in order, most
                // important first, while the floor is left: one kept within its tolerance, one
                // coming back only with the headroom, so that one whose rate wobbles at the
                // edge does not come and go at every decision.
                let mut rest = budget as f64 - (audio + taken(videos, &tried, &caps)) as f64;
                for &j in &yielding {
                    let p = chosen[j].expect("chosen");
                    let rate = videos[j].layers[p].bitrate as f64;
                    // Coming back, with the headroom even for a host's (unlike `cost`).
                    let charge = match videos[j].keeps(p) {
                        true => videos[j].cost(p),
                        false => rate * (1.0 + UPGRADE_HEADROOM),
                    };
                    if rest - charge < need {
                        break;
                    }
                    rest -= charge;
                    tried[j] = chosen[j];
                }
                // Taking the place of a video that flows, a paused one comes back only with
                // the headroom too: at the floor itself, an estimate wobbling by a few
                // kilobits would swap the two at every decision.
                let displaces = yielding
                    .iter()
                    .any(|&j| tried[j].is_none() && chosen[j].is_some_and(|p| videos[j].keeps(p)));
                // A share that flows, and takes no one's place, is kept within the tolerance of
                // any kept layer: at the floor itself, an estimate wobbling by a few kilobits
                // paused it and gave its place to the camera at one decision, and took it back
                // at the next (capped at the floor all the same).
                let need_now = match (displaces, v.current) {
                    (true, None) => need * (1.0 + UPGRADE_HEADROOM),
                    (false, Some(_)) if v.screen => need / (1.0 + KEEP_TOLERANCE),
                    _ => need,
                };
                if rest >= need_now {
                    // At least the floor: one kept within its tolerance may leave a little less
                    // (the total then over the budget by no more than a kept layer may be).
                    let left_over = budget.saturating_sub(audio + taken(videos, &tried, &caps));
                    let cap = left_over.max(need as u64);
                    chosen = tried;
                    chosen[i] = Some(0);
                    caps[i] = Some(cap);
                    left = 0.0;
                }
            }
            while raise_once(videos, &group, &mut chosen, &mut left, &mut room) {}
            let host_paused = chosen
                .iter()
                .zip(videos)
                .any(|(c, v)| c.is_none() && v.priority == Priority::Host && v.ideal().is_some());
            if host_paused {
                break;
            }
            host_waiting = chosen.iter().zip(videos).any(|(c, v)| {
                c.is_some() && v.priority == Priority::Host && (v.waiting || v.paused)
            });
        }
    }
    let used = audio + taken(videos, &chosen, &caps);
    let next_step = videos
        .iter()
        .zip(&chosen)
        .zip(&caps)
        .filter_map(|((v, c), cap)| {
            let ideal = v.ideal()?;
            let rate = |p: usize| v.layers[p].bitrate;
            match (*c, *cap) {
                // A screen share has one layer: nothing to step up to.
                (Some(0), _) if v.screen => None,
                // A capped camera's next step is its lowest layer whole.
                (Some(0), Some(cap)) => Some(rate(0).saturating_sub(cap)).filter(|e| *e > 0),
                (Some(now), _) if now < ideal => Some(rate(now + 1) - rate(now).min(rate(now + 1))),
                // Paused: back at its lowest layer, or capped at the floor if it can be.
                (None, _) => Some(v.cap_floor().map_or(rate(0), |f| f.min(rate(0)))),
                _ => None,
            }
        })
        .min()
        .map(|extra| used + extra + extra * 15 / 100);
    Allocation {
        next_step,
        layers: chosen
            .iter()
            .zip(videos)
            .map(|(c, v)| c.map(|p| v.layers[p].index))
            .collect(),
        paused: chosen
            .iter()
            .zip(videos)
            .map(|(c, v)| c.is_none() && v.ideal().is_some())
            .collect(),
        caps,
        used,
        wanted,
        audio_only,
    }
}

/// Raises each video of `group` (most important first) by one layer towards its ideal where
/// that fits in `left`, and in `room` if above the layer it has now; false if none could be
/// raised.
fn raise_once(
    videos: &[Video],
    group: &[usize],
    chosen: &mut [Option<usize>],
    left: &mut f64,
    room: &mut f64,
) -> bool {
    let mut raised = false;
    for &i in group {
        let v = &videos[i];
        let (Some(now), Some(ideal)) = (chosen[i], v.ideal()) else {
            continue;
        };
        // A held video may come back up to where it was, not beyond; one paused for want of
        // bandwidth comes back at its lowest layer alone, raised at a later decision (a class
        // resuming at once on a recovered estimate overran the link again).
        let may_raise = (!v.held || v.position_of(v.current).is_some_and(|c| c > now))
            && !(v.paused && v.current.is_none());
        if now >= ideal || !may_raise {
            continue;
        }
        let extra = v.cost(now + 1) - v.cost(now);
        if extra <= *left && (v.keeps(now + 1) || extra <= *room) {
            *left -= extra;
            *room -= extra;
            chosen[i] = Some(now + 1);
            raised = true;
        }
    }
    raised
}

/// Indices of `videos`, most important first: by priority, then larger tiles first.
fn importance_order(videos: &[Video]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..videos.len()).collect();
    // At the same height a screen share before a camera: the slides are the lesson.
    order.sort_by_key(|&i| {
        let v = &videos[i];
        (v.priority, std::cmp::Reverse(v.shown), !v.screen)
    });
    order
}

/// Shares `budget` among claimants by need, max-min fair: nobody gets more than it asks for,
/// and what the modest leave over is split evenly among the rest. Used for the server's budget
/// between rooms and a room's between its subscribers.
pub fn share(budget: u64, demands: &[u64]) -> Vec<u64> {
    let mut shares = vec![0; demands.len()];
    let mut open: Vec<usize> = (0..demands.len()).collect();
    open.sort_by_key(|&i| demands[i]);
    let mut left = budget;
    let mut remaining = open.len() as u64;
    for i in open {
        let even = left / remaining;
        shares[i] = demands[i].min(even);
        left -= shares[i];
        remaining -= 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera's three layers at the web client's rates (180, 360, 720 lines).
    fn camera(priority: Priority, shown: Option<u32>) -> Video {
        Video {
            priority,
            shown,
            layers: vec![
                Layer {
                    index: 0,
                    height: 180,
                    bitrate: 150_000,
                },
                Layer {
                    index: 1,
                    height: 360,
                    bitrate: 450_000,
                },
                Layer {
                    index: 2,
                    height: 720,
                    bitrate: 1_200_000,
                },
            ],
            current: None,
            held: false,
            screen: false,
            cap_ignored: false,
            paused: false,
            waiting: false,
        }
    }

    fn screen() -> Video {
        Video {
            priority: Priority::Host,
            shown: Some(1080),
            layers: vec![Layer {
                index: 0,
                height: 1080,
                bitrate: 800_000,
            }],
            current: None,
            held: false,
            screen: true,
            cap_ignored: false,
            paused: false,
            waiting: false,
        }
    }

    /// Runs the allocator to a steady state (the current layers fed back), as the tick does.
    fn settle(budget: u64, audio_streams: u64, videos: &mut [Video]) -> Allocation {
        let audio = AUDIO_BITRATE * audio_streams;
        let mut audio_only = false;
        let mut last = None;
        for _ in 0..5 {
            let a = allocate(budget, audio, videos, audio_only);
            for (v, l) in videos.iter_mut().zip(&a.layers) {
                v.current = *l;
            }
            audio_only = a.audio_only;
            last = Some(a);
        }
        last.expect("ran")
    }

    /// A camera at the rates the impair run's bots measured: 95 kbit/s at 180p, 590 at 360p.
    fn bot_camera(priority: Priority, shown: u32) -> Video {
        let mut v = camera(priority, Some(shown));
        for (layer, rate) in v.layers.iter_mut().zip([95_000, 590_000, 1_500_000]) {
            layer.bitrate = rate;
        }
        v
    }

    #[test]
    fn a_raise_that_pauses_thumbnails_takes_from_others() {
        // The impair run's 1 Mbit/s link: the teacher at 180p and four thumbnails flow
        // beside six voices.
        let mut videos = vec![bot_camera(Priority::Host, 720)];
        videos.extend((0..4).map(|_| bot_camera(Priority::Other, 180)));
        for v in &mut videos {
            v.current = Some(0);
        }
        let audio = AUDIO_BITRATE * 6;
        // Where the link stays, nothing changes, and nothing needs to hold.
        let steady = allocate(900_000, audio, &videos, false);
        assert_eq!(steady.layers, vec![Some(0); 5]);
        assert!(!steady.takes_from_others(&videos, &[false; 5]));
        // At a peak of the estimate the teacher's 360p fits, with the thumbnails paused.
        let peak = allocate(1_050_000, audio, &videos, false);
        assert_eq!(peak.layers[0], Some(1), "{peak:?}");
        assert!(peak.paused.iter().any(|p| *p), "{peak:?}");
        assert!(peak.takes_from_others(&videos, &[false; 5]));
        // Unless the videos it pauses are not measured yet (they keep their layers then).
        let guessed = [false, true, true, true, true];
        assert!(!peak.takes_from_others(&videos, &guessed));
        // A thumbnail or the teacher given back after a pause takes nothing from the others.
        let thumbnails = &mut videos[1..];
        thumbnails[3].current = None;
        thumbnails[3].paused = true;
        let back = allocate(1_000_000, audio, thumbnails, false);
        assert_eq!(back.layers[3], Some(0), "{back:?}");
        assert!(!back.takes_from_others(thumbnails, &[false; 4]));
        let teacher = &mut videos[..1];
        teacher[0].current = None;
        teacher[0].paused = true;
        let a = allocate(1_000_000, audio, teacher, false);
        assert_eq!(a.layers[0], Some(0), "{a:?}");
        assert!(!a.takes_from_others(teacher, &[false]));
        // A tile shrunk while another grows takes nothing for want of room.
        let mut swap = [
            bot_camera(Priority::Other, 180),
            bot_camera(Priority::Other, 720),
        ];
        swap[0].current = Some(2);
        swap[1].current = Some(0);
        let a = allocate(3_000_000, audio, &swap, false);
        assert_eq!(a.layers, vec![Some(0), Some(2)], "{a:?}");
        assert!(!a.takes_from_others(&swap, &[false; 2]));
        // A screen share that starts takes the room of the thumbnails: a host video given a
        // layer it did not have, not a raise of one that flows.
        let mut share = vec![screen()];
        share.extend((0..4).map(|_| bot_camera(Priority::Other, 180)));
        for v in &mut share[1..] {
            v.current = Some(0);
        }
        let a = allocate(1_300_000, audio, &share, false);
        assert_eq!(a.layers[0], Some(0), "{a:?}");
        assert!(a.paused.iter().any(|p| *p), "{a:?}");
        assert!(!a.takes_from_others(&share, &[false; 5]));
    }

    #[test]
    fn with_room_to_spare_every_tile_gets_the_layer_its_size_calls_for() {
        let mut videos = [
            camera(Priority::Host, Some(720)),
            camera(Priority::Other, Some(180)),
            camera(Priority::Other, Some(300)),
            camera(Priority::Other, None),
        ];
        let a = settle(10_000_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), Some(0), Some(1), None]);
        assert_eq!(a.paused, [false; 4], "a hidden tile is not 'paused'");
        assert_eq!(a.used, 4 * AUDIO_BITRATE + 1_200_000 + 150_000 + 450_000);
        assert_eq!(a.wanted, a.used);
    }

    #[test]
    fn under_pressure_the_others_drop_first_and_the_host_last() {
        // Teacher large, three students as thumbnails that would like their middle layer.
        let mut videos = [
            camera(Priority::Host, Some(720)),
            camera(Priority::Other, Some(360)),
            camera(Priority::Other, Some(360)),
            camera(Priority::Other, Some(360)),
        ];
        let audio = 4 * AUDIO_BITRATE;
        let a = settle(audio + 3_000_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), Some(1), Some(1), Some(1)]);
        // Less: the students come down first, in turns from the last.
        let a = settle(audio + 2_000_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), Some(1), Some(0), Some(0)]);
        let a = settle(audio + 1_700_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), Some(0), Some(0), Some(0)]);
        // Then they are paused, the last one (same priority, same size) first.
        // (Each step is more than KEEP_TOLERANCE below the last: a layer is kept while the
        // total is at most that much over.)
        let a = settle(audio + 1_450_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), Some(0), Some(0), None]);
        assert_eq!(a.paused, [false, false, false, true]);
        let a = settle(audio + 1_200_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(2), None, None, None]);
        // Only then does the teacher come down, and is paused last of all.
        let a = settle(audio + 1_000_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(1), Some(0), Some(0), Some(0)]);
        let a = settle(audio + 200_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(0), None, None, None]);
        // Her lowest layer capped at her page, then paused below the floor.
        let a = settle(audio + 100_000, 4, &mut videos);
        assert_eq!(a.layers, [Some(0), None, None, None]);
        assert_eq!(a.caps[0], Some(100_000));
        let a = settle(audio + 40_000, 4, &mut videos);
        assert_eq!(a.layers, [None, None, None, None]);
    }

    #[test]
    fn no_student_has_video_while_the_teachers_is_paused() {
        // The students' lowest layer is cheaper than the teacher's: 60 kbit/s would fit one
        // of them where the teacher's 150 does not.
        let mut student = camera(Priority::Other, Some(180));
        student.layers[0].bitrate = 60_000;
        let mut videos = [camera(Priority::Host, Some(720)), student];
        let a = settle(2 * AUDIO_BITRATE + 50_000, 2, &mut videos);
        assert_eq!(a.layers, [None, None]);
        assert_eq!(a.paused, [true, true]);
        // A teacher paused a moment ago comes back as soon as she fits (no hold for hosts).
        videos[0].held = true;
        let a = allocate(
            2 * AUDIO_BITRATE + 180_000,
            2 * AUDIO_BITRATE,
            &videos,
            false,
        );
        assert_eq!(a.layers[0], Some(0));
        // Capped at her page, she leaves nothing for the student either.
        let mut videos = [videos[0].clone(), videos[1].clone()];
        videos[0].held = false;
        let a = settle(2 * AUDIO_BITRATE + 120_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None]);
        assert_eq!(a.paused, [false, true]);
        assert_eq!(a.caps, [Some(120_000), None]);
    }

    #[test]
    fn a_host_camera_whose_lowest_layer_does_not_fit_is_capped_at_its_publisher() {
        let audio = 6 * AUDIO_BITRATE;
        // The teacher's lowest layer sends 170 kbit/s; 120 are left beside six voices.
        let mut teacher = camera(Priority::Host, Some(720));
        teacher.layers[0].bitrate = 170_000;
        let mut videos = [teacher.clone()];
        let a = settle(audio + 120_000, 6, &mut videos);
        assert_eq!(a.layers, [Some(0)]);
        assert_eq!(a.paused, [false]);
        assert_eq!(a.caps, [Some(120_000)]);
        assert_eq!(a.used, audio + 120_000, "the cap is what it counts");
        // Its next step is that layer whole; but padding does not look for it: the cap
        // already fills what the estimate leaves, and rises with it.
        assert_eq!(a.next_step, Some(audio + 120_000 + 57_500));
        assert!(!a.looks_for_room(true, 0.0));
        // Capped, it still counts at what it sent before (the room keeps that rate as the
        // layer's): the cap stays until that fits, and then goes.
        let a = settle(audio + 160_000, 6, &mut videos);
        assert_eq!(
            (a.layers[0], a.caps[0]),
            (Some(0), None),
            "kept whole within the tolerance"
        );
        // Whole and below its tile: padding looks for the next layer up, on the
        // subscriber's own link that is not losing packets.
        assert!(a.looks_for_room(true, 0.0));
        assert!(!a.looks_for_room(false, 0.0), "a share of a budget");
        assert!(!a.looks_for_room(true, LOSS_FROM), "a losing link");
        let a = settle(audio + 140_000, 6, &mut videos);
        assert_eq!(a.caps, [Some(140_000)]);
        // Kept capped a little below the floor (GCC's estimate wobbles around what is sent,
        // and capped it sends all that is left), paused further down; back capped only with
        // the headroom.
        let a = settle(audio + 50_000, 6, &mut videos);
        assert_eq!(a.caps, [Some(50_000)]);
        let a = settle(audio + 40_000, 6, &mut videos);
        assert_eq!((a.layers[0], a.paused[0]), (None, true));
        assert_eq!(a.next_step, Some(audio + CAMERA_FLOOR + 9_000));
        let a = allocate(audio + 65_000, audio, &videos, false);
        assert_eq!(
            a.layers,
            [None],
            "not back at the floor without the headroom"
        );
        let a = allocate(audio + 70_000, audio, &videos, false);
        assert_eq!((a.layers[0], a.caps[0]), (Some(0), Some(70_000)));

        // Not a camera with one encoding (everyone takes that one), nor a student's.
        let mut single = teacher.clone();
        single.layers.truncate(1);
        let mut student = teacher.clone();
        student.priority = Priority::Other;
        for v in [single, student] {
            let a = settle(audio + 120_000, 6, &mut [v]);
            assert_eq!((a.layers[0], a.caps[0]), (None, None));
        }
    }

    #[test]
    fn the_active_speaker_comes_before_the_other_students() {
        let mut videos = [
            camera(Priority::Other, Some(360)),
            camera(Priority::Speaker, Some(360)),
            camera(Priority::Other, Some(360)),
        ];
        let a = settle(3 * AUDIO_BITRATE + 900_000, 3, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(1), Some(0)]);
    }

    #[test]
    fn a_screen_share_keeps_its_size_capped_at_its_publisher_and_is_paused_only_below_the_floor() {
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        let a = settle(2 * AUDIO_BITRATE + 1_100_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(0)]);
        assert_eq!(a.caps, [None, None]);
        // Not whole: the teacher's camera keeps its lowest layer, the share gets the rest as
        // a cap at its publisher, never a lower resolution.
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        let a = settle(2 * AUDIO_BITRATE + 500_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(0)]);
        let cap = a.caps[0].expect("capped");
        assert!((300_000..=350_000).contains(&cap), "{cap}");
        assert_eq!(a.caps[1], None);
        assert!(a.used <= 2 * AUDIO_BITRATE + 500_000, "{a:?}");
        // Not with the camera's lowest layer beside it: the share is shown larger, so the
        // camera makes way for it. Back only with the headroom beside the share's floor (150
        // + 172.5 kbit/s), kept within its tolerance (150 + 136.4).
        let audio = 2 * AUDIO_BITRATE;
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        let a = settle(audio + 250_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None], "the camera makes way");
        assert_eq!(a.paused, [false, true]);
        assert_eq!(a.caps, [Some(250_000), None]);
        // No padding beside the cap: str0m's probes towards what the page would show find
        // her room (sfu/tests/adaptation.rs, the_teachers_camera_makes_way_for_her_capped_share).
        assert!(!a.looks_for_room(true, 0.0));
        let a = settle(audio + 310_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None], "not back");
        let a = settle(audio + 330_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(0)], "back");
        assert_eq!(a.caps, [Some(180_000), None]);
        let a = settle(audio + 290_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(0)], "kept");
        assert_eq!(
            a.caps,
            [Some(150_000), None],
            "the floor, the camera kept within its tolerance"
        );
        let a = settle(audio + 280_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None], "gone again");
        // Where even the whole rest is under the floor, the camera kept stays kept, decision
        // after decision.
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        videos[1].current = Some(0);
        let a = settle(audio + 140_000, 2, &mut videos);
        assert_eq!(a.layers, [None, Some(0)]);
        assert_eq!(a.caps, [None, None]);
        let again = allocate(audio + 140_000, audio, &videos, false);
        assert_eq!((again.layers, again.caps), (a.layers, a.caps));
        // At the floor itself the two do not swap with the estimate's wobble: the share takes
        // the place of the camera that flows only with the headroom (172.5), and keeps it
        // down to the floor.
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        videos[1].current = Some(0);
        let a = settle(audio + 160_000, 2, &mut videos);
        assert_eq!(a.layers, [None, Some(0)], "the camera kept");
        let a = settle(audio + 180_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None], "the share in its place");
        let a = settle(audio + 155_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None]);
        assert_eq!(a.caps, [Some(155_000), None]);
        // A little below the floor, the share that flows is kept, capped at the floor
        // (within the tolerance of any kept layer); further below, the camera is back.
        let a = settle(audio + 145_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), None], "kept within its tolerance");
        assert_eq!(a.caps, [Some(150_000), None]);
        let a = settle(audio + 135_000, 2, &mut videos);
        assert_eq!(
            a.layers,
            [None, Some(0)],
            "below the tolerance: the camera back"
        );
        assert_eq!(a.caps, [None, Some(135_000)], "capped at what is left");
        // Of two cameras beside the share, the smaller makes way first.
        let mut videos = [
            screen(),
            camera(Priority::Host, Some(360)),
            camera(Priority::Host, Some(180)),
        ];
        let a = settle(audio + 450_000, 2, &mut videos);
        assert_eq!(a.layers, [Some(0), Some(0), None]);
        assert_eq!(a.caps, [Some(300_000), None, None]);
        // A camera as large as the share makes way too, whichever comes first; a larger one
        // does not.
        let mut videos = [camera(Priority::Host, Some(1080)), screen()];
        let a = settle(audio + 250_000, 2, &mut videos);
        assert_eq!(a.layers, [None, Some(0)]);
        assert_eq!(a.caps, [None, Some(250_000)]);
        // Below the share's floor: the share paused, the camera capped at what is left.
        let mut videos = [screen(), camera(Priority::Host, Some(180))];
        let a = settle(audio + 120_000, 2, &mut videos);
        assert_eq!(a.layers, [None, Some(0)], "paused below the floor");
        assert_eq!(a.caps, [None, Some(120_000)]);
        // A camera shown larger than the share does not make way for it.
        let mut videos = [screen(), camera(Priority::Host, Some(1440))];
        let a = settle(audio + 250_000, 2, &mut videos);
        assert_eq!(a.layers, [None, Some(0)]);
        assert_eq!(a.caps, [None, None]);
    }

    #[test]
    fn a_video_paused_for_bandwidth_comes_back_at_its_lowest_layer_first() {
        let mut teacher = camera(Priority::Host, Some(720));
        teacher.paused = true;
        let a = allocate(
            10_000_000,
            AUDIO_BITRATE,
            std::slice::from_ref(&teacher),
            false,
        );
        assert_eq!(a.layers, [Some(0)], "back at the lowest layer");
        teacher.paused = false;
        teacher.current = Some(0);
        let a = allocate(10_000_000, AUDIO_BITRATE, &[teacher], false);
        assert_eq!(a.layers, [Some(2)], "raised at the next decision");
    }

    #[test]
    fn a_raise_goes_no_further_than_a_step_above_what_the_link_carried() {
        // The teacher at her lowest layer on a 0.65 Mbit/s link whose estimate a probe has
        // just put at 2.4 Mbit/s.
        let audio = 4 * AUDIO_BITRATE;
        let mut teacher = camera(Priority::Host, Some(720));
        teacher.current = Some(0);
        let carried = 420_000;
        let ceiling = step_ceiling(2_400_000, carried, audio + 150_000);
        assert_eq!(ceiling, 670_000, "the least step above what was carried");
        // The estimate has room for her 720p layer; only the ceiling decides.
        let probed = |ceiling: u64, teacher: &Video| {
            allocate_capped(
                2_400_000,
                ceiling,
                audio,
                std::slice::from_ref(teacher),
                false,
            )
        };
        let a = probed(ceiling, &teacher);
        assert_eq!(
            a.layers,
            [Some(0)],
            "the step to 360 lines is 345 kbit/s with headroom"
        );
        let next = a.next_step.expect("a step up to pad towards");
        assert!(next > ceiling && next <= 2_400_000, "{next}");
        // Padded to the next step, the link carries it: the raise follows, one layer.
        let a = probed(step_ceiling(2_400_000, next, a.used), &teacher);
        assert_eq!(a.layers, [Some(1)]);
        // What the teacher has is kept under any ceiling, within the budget.
        teacher.current = Some(2);
        assert_eq!(probed(0, &teacher).layers, [Some(2)]);
        // Nor is a step above what is allocated now held back; and an estimate that GCC
        // could have reached by itself, half again above what was shown, sets no ceiling.
        assert_eq!(step_ceiling(2_400_000, 100_000, 900_000), 1_150_000);
        assert_eq!(
            step_ceiling(3_000_000, 1_600_000, 900_000),
            2_000_000,
            "a quarter"
        );
        // A link that carried one voice takes a video back at once.
        assert_eq!(step_ceiling(2_400_000, 40_000, AUDIO_BITRATE), 310_000);
        assert_eq!(step_ceiling(1_350_000, 100_000, 900_000), u64::MAX);
        // The audio-only hysteresis is the budget's: a low ceiling does not keep a link that
        // recovered on audio alone.
        teacher.current = None;
        let a = allocate_capped(400_000, AUDIO_BITRATE, AUDIO_BITRATE, &[teacher], true);
        assert!(!a.audio_only);
    }

    #[test]
    fn padding_aims_at_a_raise_the_ceiling_alone_holds_back() {
        // The impair run's 2.5 Mbit/s phase, as logged: the teacher at 360p, five thumbnails
        // at their lowest layer (measured at about 80 kbit/s each), six voices, 2.09 Mbit/s for
        // the layers after a probe (the share of an estimate of 2.32), the link having shown
        // some 1.15 Mbit/s.
        let audio = 456_000;
        let mut teacher = camera(Priority::Host, Some(720));
        teacher.current = Some(1);
        let mut videos = vec![teacher];
        for _ in 0..5 {
            let mut thumb = camera(Priority::Other, Some(180));
            thumb.layers[0].bitrate = 80_000;
            thumb.current = Some(0);
            videos.push(thumb);
        }
        let estimate = 2_318_000;
        let budget = link_share(estimate);
        let decide = |ceiling| allocate_capped(budget, ceiling, audio, &videos, false);
        let sent = audio + 450_000 + 5 * 80_000;
        let ceiling = step_ceiling(budget, 1_150_000, sent);
        assert_eq!(ceiling, 1_632_500, "a quarter above what is allocated");
        let a = decide(ceiling);
        assert_eq!(a.used, sent);
        let kept = [Some(1), Some(0), Some(0), Some(0), Some(0), Some(0)];
        assert_eq!(a.layers, kept);
        // The next step, her 720p layer beside all five, is beyond the budget itself: no step
        // to pad towards.
        assert!(a.next_step.is_some_and(|n| n > budget), "{:?}", a.next_step);
        // Without the ceiling she goes to 720p (host first), and two thumbnails make way.
        let free = decide(u64::MAX);
        assert_eq!(free.layers[0], Some(2));
        assert_eq!(free.paused.iter().filter(|p| **p).count(), 2);
        let held = held_by_ceiling(ceiling, budget, a.used, || decide(u64::MAX));
        assert_eq!(held, Some(free.used));
        assert!(free.used > a.used && free.used <= budget);
        // Padded towards it as far as the ceiling goes (as the room does), the link has shown
        // enough that the estimate is no probe's any more: the ceiling goes, and she is raised.
        let padded = free.used.min(link_share(estimate)).min(ceiling);
        let lifted = step_ceiling(budget, padded, a.used);
        assert_eq!(lifted, u64::MAX);
        assert_eq!(decide(lifted).layers[0], Some(2));
        // No ceiling, or one that holds nothing back: nothing to aim at.
        assert_eq!(
            held_by_ceiling(u64::MAX, budget, a.used, || decide(u64::MAX)),
            None
        );
        let all = held_by_ceiling(budget - 1, budget, free.used, || decide(u64::MAX));
        assert_eq!(all, None);
    }

    #[test]
    fn a_lossy_link_is_sent_its_estimate_less_what_it_loses() {
        assert_eq!(within_loss(1_000_000, 0.0), 1_000_000);
        assert_eq!(
            within_loss(1_000_000, 0.015),
            1_000_000,
            "a Wi-Fi's random loss"
        );
        assert_eq!(within_loss(1_000_000, 0.15), 850_000);
        assert_eq!(within_loss(1_000_000, 0.9), 500_000, "at most halved");
    }

    #[test]
    fn a_hosts_paused_video_comes_back_as_soon_as_it_fits_a_students_with_headroom() {
        // Exactly the lowest layer beside the audio: the teacher's comes back, a student's
        // waits for 15 % more.
        let budget = AUDIO_BITRATE + 150_000;
        let teacher = camera(Priority::Host, Some(720));
        let a = allocate(budget, AUDIO_BITRATE, std::slice::from_ref(&teacher), false);
        assert_eq!(a.layers, [Some(0)]);
        let student = camera(Priority::Other, Some(720));
        let a = allocate(budget, AUDIO_BITRATE, std::slice::from_ref(&student), false);
        assert_eq!(a.layers, [None]);
        let a = allocate(budget + 22_500, AUDIO_BITRATE, &[student], false);
        assert_eq!(a.layers, [Some(0)]);
    }

    #[test]
    fn a_hosts_video_back_from_a_pause_flows_before_the_others_come_back() {
        // All paused; room again for everyone's lowest layer (all shown small).
        let mut videos = [
            camera(Priority::Host, Some(180)),
            camera(Priority::Other, Some(180)),
            camera(Priority::Other, Some(180)),
        ];
        for v in &mut videos {
            v.paused = true;
        }
        let budget = 3 * AUDIO_BITRATE + 600_000;
        let a = allocate(budget, 3 * AUDIO_BITRATE, &videos, false);
        assert_eq!(a.layers, [Some(0), None, None], "the teacher first");
        // She was given her layer and nothing of it has come yet: the students wait.
        videos[0].paused = false;
        videos[0].current = Some(0);
        videos[0].waiting = true;
        let a = allocate(budget, 3 * AUDIO_BITRATE, &videos, false);
        assert_eq!(a.layers, [Some(0), None, None]);
        // A student's video that flows goes on meanwhile.
        videos[2].paused = false;
        videos[2].current = Some(0);
        let a = allocate(budget, 3 * AUDIO_BITRATE, &videos, false);
        assert_eq!(a.layers, [Some(0), None, Some(0)]);
        // Her video flows: the others come back.
        videos[0].waiting = false;
        let a = allocate(budget, 3 * AUDIO_BITRATE, &videos, false);
        assert_eq!(a.layers, [Some(0), Some(0), Some(0)]);
    }

    #[test]
    fn a_weak_link_goes_audio_only_and_comes_back_with_hysteresis() {
        let mut videos = [camera(Priority::Host, Some(720))];
        let a = allocate(90_000, AUDIO_BITRATE, &videos, false);
        assert!(a.audio_only);
        assert_eq!(a.layers, [None]);
        assert_eq!(a.paused, [true]);
        // 120 kbit/s would carry a thumbnail, but the link only just recovered.
        let a = allocate(120_000, AUDIO_BITRATE, &videos, true);
        assert!(a.audio_only);
        let a = allocate(250_000, AUDIO_BITRATE, &videos, true);
        assert!(!a.audio_only);
        assert_eq!(a.layers, [Some(0)]);
        videos[0].current = Some(0);
        let a = allocate(120_000, AUDIO_BITRATE, &videos, false);
        assert!(
            !a.audio_only,
            "and stays until the budget falls below 100 kbit/s"
        );
    }

    #[test]
    fn a_noisy_estimate_does_not_make_layers_flap() {
        let mut videos = [camera(Priority::Host, Some(720))];
        let audio = AUDIO_BITRATE;
        let mut changes = 0;
        let mut audio_only = false;
        // An estimate that swings ±10 % around exactly what the top layer needs.
        for step in 0..200 {
            let swing = if step % 2 == 0 { 1.1 } else { 0.9 };
            let budget = audio + (1_200_000.0 * swing) as u64;
            let a = allocate(budget, AUDIO_BITRATE, &videos, audio_only);
            audio_only = a.audio_only;
            if a.layers[0] != videos[0].current {
                changes += 1;
                // Lowered: held for UPGRADE_HOLD, here 25 steps of 200 ms.
                videos[0].held = a.layers[0] < videos[0].current;
            } else if step % 25 == 0 {
                videos[0].held = false;
            }
            videos[0].current = a.layers[0];
        }
        assert!(changes <= 2, "{changes} layer changes in 40 s");
        assert_eq!(
            videos[0].current,
            Some(1),
            "it settles below the swinging top"
        );
    }

    #[test]
    fn shares_are_max_min_fair() {
        assert_eq!(share(900, &[100, 1000, 1000]), [100, 400, 400]);
        assert_eq!(share(900, &[100, 200]), [100, 200]);
        assert_eq!(share(0, &[100, 200]), [0, 0]);
        assert_eq!(share(1000, &[]), Vec::<u64>::new());
        assert_eq!(share(10, &[u64::MAX, u64::MAX, u64::MAX]), [3, 3, 4]);
    }
}
