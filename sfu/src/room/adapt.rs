//! Bandwidth adaptation, twice a second and after a change: every subscriber's layers from
//! its link's estimate, its share of the budgets and what its page shows
//! ([`crate::allocate`]); subscribers told what is paused; publishers told which encodings
//! nobody takes, so their pages switch them off.

use std::time::{Duration, Instant};

use super::Room;
use crate::allocate::{self, Layer, Priority, UPGRADE_HEADROOM, UPGRADE_HOLD, Video};
use crate::api::{
    Kind, LayerReport, ParticipantId, RoomReport, SfuEvent, Source, SubscriberReport, VideoReport,
};
use crate::ctx::{Ctx, Output};
use crate::participant::{PAUSE_AT_SOURCE_AFTER, SWITCH_ON_GRACE, SourceCap, StreamKey, UpTrack};
use rustc_hash::FxHashMap;

/// A cap at a publisher (a screen share's, a host camera's lowest layer's) is lifted once no
/// subscriber has needed it for this long: a link that recovers for a moment does not bring
/// the full rate back at once.
const CAP_LIFT_AFTER: Duration = Duration::from_secs(5);

/// How much more than its encoder's `maxBitrate` a camera's lowest layer sends on the wire,
/// in percent: RTP, SRTP, UDP and IP headers on small frames of one or two packets, and the
/// keyframes (measured: the web client's 180p layer at a `maxBitrate` of 150 kbit/s, and the
/// loadtest's teacher sending it, came to 167-179 kbit/s in the impair run). A cap is decided
/// on the wire and told to the page as the encoder's rate.
const CAMERA_CAP_OVERHEAD: u64 = 15;

/// How long a publisher has to bring a capped encoding down to its cap (the event's way to the
/// page, its `setParameters` and the encoder's next frames) before what it sends is weighed
/// against it. Everything sent in the window counts: a page that kept to the cap only 0.2 s
/// into a window would be judged ignoring it where the encoding sends 8 times its cap, so
/// the window starts a generous 2 s after the cap.
const CAP_SETTLE: Duration = Duration::from_secs(2);
/// What a capped encoding sends is weighed over windows this long, from [`CAP_SETTLE`] on (the
/// first judgement 5 s after the cap): the bytes of the window alone, not the smoothed rate,
/// which still held a tenth of the rate from before the cap after four seconds, so a share of
/// 1.3 Mbit/s capped at 150 kbit/s was judged ignored while its page kept to the cap.
const CAP_WINDOW: Duration = Duration::from_secs(3);
/// A capped encoding sending above this many times its cap over a window is not being capped:
/// the subscribers it was capped for would be sent more than their links take.
const CAP_IGNORED_ABOVE: f64 = 1.5;
/// How long a publisher found ignoring a cap is not capped again: its videos are paused where
/// they do not fit, as before caps.
const CAP_DISTRUST: Duration = Duration::from_secs(60);

/// A subscriber's link that lost at least this share of what it was sent in the last
/// [`OVERFULL_WINDOW`] (by transport-wide feedback) is decided on GCC's current estimate: a
/// link that lost most of its capacity loses half or more; Wi-Fi's random loss, a few percent.
const OVERFULL: f32 = 0.2;
const OVERFULL_WINDOW: Duration = Duration::from_millis(500);
/// How long after the last overfull half second: the three seconds str0m averages over.
const OVERFULL_HOLD: Duration = Duration::from_secs(3);

/// How often every subscriber's link is looked at for a queue that overflows
/// ([`Room::watch_overflow`]): a few transport-wide feedback reports.
const OVERFLOW_EVERY: Duration = Duration::from_millis(100);
/// The packets sent in this much time before a look are what it judges by.
const OVERFLOW_WINDOW: Duration = Duration::from_millis(200);
/// A one-way delay this much longer than the least of the last seconds: a queue stands.
const QUEUE_STANDING: Duration = Duration::from_millis(50);

/// How often layers are decided (and measured): GCC's estimate moves within a few hundred
/// milliseconds of congestion, and a layer switch waits for a keyframe anyway.
pub(super) const ALLOCATE_EVERY: Duration = Duration::from_millis(500);

/// How long a subscriber's own link must have held it back before its page says so
/// (`bandwidth.limited`), as a measured fact rather than a moment: right after a join, or when
/// a loaded machine delays a few feedback reports, GCC's estimate dips below what the page
/// shows for a second or less and comes back (seen in CI: "Your connection is limiting video"
/// on an open link, gone a moment later). A link that really is too thin holds it back for
/// as long as it stays so. Going back to "not limited" is said at once.
const LIMITED_AFTER: Duration = Duration::from_secs(2);
/// A path's first seconds: its estimate starts from str0m's initial guess (2.5 Mbit/s), and
/// the probes of its first media measure the link. A video lowered or paused then is not held
/// for [`UPGRADE_HOLD`]: the guess was not the link. Measured in a meeting of 20 on loopback
/// (docs/benchmarks.md, "The first seconds of a subscriber's estimate").
const WARM_UP: Duration = Duration::from_secs(3);

/// What a link carried is read over this much of its latest transport-wide feedback
/// ([`allocate::step_ceiling`]): long enough to hold a few frames of each video, short enough
/// that padding to the next step shows within a decision or two.
const CARRIED_WINDOW: Duration = Duration::from_millis(500);

/// The rate of a layer not measured yet, by its height: the web client's `maxBitrate`s
/// (web-client/static/simulcast.js), which its encoder approaches on a good link.
fn nominal_bitrate(height: u32) -> u64 {
    match height {
        0..=240 => 150_000,
        241..=480 => 450_000,
        _ => 1_200_000,
    }
}

/// One subscriber's videos, read before anything is decided.
struct Plan {
    id: ParticipantId,
    /// What the audio streams it receives send (bit/s), as the allocator reserves it.
    audio: u64,
    /// Per video: its slot, its stream, what the allocator needs to know.
    slots: Vec<(usize, StreamKey)>,
    videos: Vec<Video>,
    /// Per video: none of its layers has been measured yet (it began sending less than
    /// [`ALLOCATE_EVERY`] ago), so its costs are guesses.
    unmeasured: Vec<bool>,
    estimate: Option<u64>,
    wanted: u64,
}

impl Room {
    /// The subscriber's send-side estimate changed (str0m's GCC on its subscribe connection).
    ///
    /// One that fell by a tenth since the last decision, below what that decision sends, is
    /// decided on at once: until the layers are lowered, every moment at the old rate fills
    /// str0m's pacer queue (which then drains at the new estimate, above the link's capacity,
    /// for seconds) and the bottleneck's queue.
    pub(super) fn handle_estimate(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        bitrate: u64,
    ) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        tracing::trace!(%participant, bitrate, "egress estimate");
        p.down.estimate = Some(bitrate);
        p.down.path_since.get_or_insert(now);
        let (sent, decided_on) = p.down.decided;
        // Below what is sent itself, not the share the layers fill (allocate::LINK_SHARE):
        // the tick decides on falls within that tenth (see `apply` on the ceiling).
        if bitrate < sent && bitrate * 10 < decided_on * 9 {
            self.adapt_soon(now);
        }
    }

    /// Looks at every subscriber's link for a queue that overflows: a fifth or more of what
    /// was sent lost behind a one-way delay that stands well above its least of the last
    /// seconds. Such a link delivers what its bottleneck carries, whatever it is sent, so what
    /// it delivered is its capacity: decided on at once, and held for [`OVERFULL_HOLD`].
    ///
    /// GCC sees the same queue, but lowers its estimate to a share of what its acknowledged
    /// rate says, and that rate, averaged over the last second or so, still held most of the
    /// old one: in the impair run, where a link of 2.5 Mbit/s falls to 0.6, the first decision
    /// on its estimate came 0.7-0.8 s after the fall, at 1.2-1.5 Mbit/s (docs/benchmarks.md,
    /// "A link that overflows, decided on what it delivered").
    pub(super) fn watch_overflow(&mut self, now: Instant, ctx: &mut Ctx) {
        if !ctx.config.adaptation || self.next_overflow_check.is_some_and(|t| t > now) {
            return;
        }
        self.next_overflow_check = (!self.participants.is_empty()).then_some(now + OVERFLOW_EVERY);
        let mut decide = false;
        for p in self.participants.values_mut() {
            let down = &mut p.down;
            let Some(conn) = down.conn.as_mut() else {
                continue;
            };
            // Judged on the latest packets reported on, not on those sent lately: with a queue
            // standing, their reports come a round trip and the queue later.
            let Some(l) = conn.rtc.bwe().lately(OVERFLOW_WINDOW) else {
                continue;
            };
            // Nothing new since the last look (feedback that stopped, a look between two
            // reports), or reports on packets from before this path.
            let new = down.looked_at.is_none_or(|t| l.sent_at > t);
            if !new || down.path_since.is_none_or(|since| l.sent_at < since) {
                continue;
            }
            down.looked_at = Some(l.sent_at);
            let Some(delay) = l.one_way else {
                continue;
            };
            // One way: a queue on the subscriber's own uplink (its camera on a thin line) is
            // on the way back, not on this link.
            down.delays.handle_estimate(now, delay);
            let least = down.delays.low(now).unwrap_or(delay);
            let standing = delay >= least + QUEUE_STANDING.as_micros() as i64;
            // Random loss (Wi-Fi) stands no queue: what arrives of it is not the capacity.
            if !standing || l.lost * 5 < l.packets {
                continue;
            }
            let Some(delivered) = l.delivered else {
                continue;
            };
            let held = down
                .overflow
                .filter(|(until, _)| now < *until)
                .map(|(_, d)| d);
            ctx.stats.links_overflowing += u64::from(held.is_none());
            let least = held.map_or(delivered, |d| d.min(delivered));
            down.overflow = Some((now + OVERFULL_HOLD, least));
            // Sending more than the link delivers: decided again now, once for the overflow
            // and again only where what it delivers fell by a tenth since that decision. What
            // cannot be taken away (the audio, a share at its floor) keeps a decision over it.
            if held.is_none() {
                down.overflow_decided = None;
            }
            let fell = down.overflow_decided.is_none_or(|d| least * 10 < d * 9);
            if fell && down.decided.0 * 9 > least * 10 {
                down.overflow_decided = Some(least);
                decide = true;
            }
        }
        if decide {
            self.adapt(now, ctx);
        }
    }

    /// Decides again soon (a page's view changed, a role, a subscription).
    pub(super) fn adapt_soon(&mut self, now: Instant) {
        let soon = now + Duration::from_millis(50);
        self.next_allocation = Some(self.next_allocation.map_or(soon, |t| t.min(soon)));
    }

    pub(super) fn adapt(&mut self, now: Instant, ctx: &mut Ctx) {
        self.next_allocation = (!self.participants.is_empty()).then_some(now + ALLOCATE_EVERY);
        self.measure_layers(now);
        self.distrust_ignored_caps(now, ctx);
        let mut plans = self.plans(now);
        if !ctx.config.adaptation {
            // Only the tile sizes count: no link, no budget.
            for plan in &mut plans {
                plan.estimate = None;
            }
        }
        // A subscriber's demand leaves room for the headroom a raise needs: with exactly its
        // want as its share, a paused video could never come back.
        let demands: Vec<u64> = plans
            .iter()
            .map(|p| {
                let want = p.wanted + (p.wanted as f64 * UPGRADE_HEADROOM) as u64;
                want.min(p.estimate.map_or(u64::MAX, allocate::link_share))
            })
            .collect();
        let budget = self.room_budget(demands.iter().sum(), ctx);
        let caps = match budget {
            Some(b) => allocate::share(b, &demands),
            None => vec![u64::MAX; demands.len()],
        };
        let mut report = RoomReport {
            budget,
            subscribers: Vec::with_capacity(plans.len()),
        };
        let mut source_caps = FxHashMap::default();
        for (plan, cap) in plans.into_iter().zip(caps) {
            report
                .subscribers
                .push(self.apply(plan, cap, &mut source_caps, now, ctx));
        }
        self.pause_at_source(now, ctx);
        self.cap_at_source(now, &source_caps, ctx);
        ctx.out.push_back(Output::Report {
            room: self.id.clone(),
            report: Some(Box::new(report)),
        });
    }

    /// A cap its publisher does not keep to (the capped encoding measured at well over it once
    /// the page has had time) is dropped, and that publisher is not capped again for
    /// [`CAP_DISTRUST`]: counting on it would send the subscribers it was for more than their
    /// links take. Its videos are paused where they do not fit, as before caps.
    fn distrust_ignored_caps(&mut self, now: Instant, ctx: &mut Ctx) {
        let mut lifted = Vec::new();
        for (&id, p) in &mut self.participants {
            let Some(up) = &mut p.up else { continue };
            for track in &mut up.tracks {
                let Some(cap) = track.capped.as_mut() else {
                    continue;
                };
                let Some(first) = track.layers.first().filter(|l| !l.rate.is_held()) else {
                    continue;
                };
                let settled = cap.judged_from + CAP_SETTLE;
                if now < settled {
                    continue;
                }
                // A window starts at the first look after the encoder settled (again: a
                // window begun before a cap told anew or a switch-on is started over).
                let total = first.rate.total();
                let Some((from, bytes)) = cap.window.filter(|(at, _)| *at >= settled) else {
                    cap.window = Some((now, total));
                    continue;
                };
                let span = now.saturating_duration_since(from);
                if span < CAP_WINDOW {
                    continue;
                }
                cap.window = Some((now, total));
                let measured = (total.wrapping_sub(bytes) * 8) as f64 / span.as_secs_f64();
                if measured > cap.told as f64 * CAP_IGNORED_ABOVE {
                    let told = cap.told;
                    tracing::debug!(source = ?track.source, measured, told, "cap ignored");
                    track.capped = None;
                    track.cap_ignored_at = Some(now);
                    ctx.stats.caps_ignored += 1;
                    lifted.push((id, track.source, None));
                }
            }
        }
        // Said, in case the page did lower it and something else sent the excess.
        self.tell_caps(lifted, ctx);
    }

    /// Tells each publisher its new cap on a source (`None`: lifted).
    fn tell_caps(&mut self, caps: Vec<(ParticipantId, Source, Option<u64>)>, ctx: &mut Ctx) {
        for (id, source, max_bitrate) in caps {
            self.emit(
                id,
                SfuEvent::MaxBitrate {
                    source,
                    max_bitrate,
                },
                ctx,
            );
        }
    }

    /// Folds the bytes each layer sent since the last measurement into its rate.
    fn measure_layers(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last_measured);
        if elapsed < ALLOCATE_EVERY {
            return;
        }
        self.last_measured = now;
        for p in self.participants.values_mut() {
            let Some(up) = &mut p.up else { continue };
            for layer in up.tracks.iter_mut().flat_map(|t| t.layers.iter_mut()) {
                layer.rate.handle_tick(elapsed);
            }
        }
    }

    fn plans(&self, now: Instant) -> Vec<Plan> {
        let dominant = self.speakers.announced().and_then(|s| s.dominant);
        let mut plans = Vec::new();
        for (&id, p) in &self.participants {
            if p.down.conn.is_none() {
                continue;
            }
            let mut plan = Plan {
                id,
                audio: 0,
                slots: Vec::new(),
                videos: Vec::new(),
                unmeasured: Vec::new(),
                estimate: p.down.estimate,
                wanted: 0,
            };
            for (i, slot) in p.down.slots.iter().enumerate() {
                let Some((_, stream)) = slot.live() else {
                    continue;
                };
                let Some(publisher) = self.participants.get(&stream.publisher) else {
                    continue;
                };
                let track = publisher
                    .up
                    .as_ref()
                    .and_then(|u| u.tracks.iter().find(|t| t.source == stream.source));
                if slot.kind == Kind::Audio {
                    // A muted microphone's gate passes nothing (a class joins muted): no room
                    // kept for it. Once open, it counts at the next decision.
                    if !publisher.gates.is_open(stream.source) {
                        continue;
                    }
                    // What it sends, at least what a browser's voice does.
                    let rate = track
                        .and_then(|t| t.layers.first())
                        .map(|l| l.rate.bitrate());
                    plan.audio += rate.unwrap_or(0).max(allocate::AUDIO_BITRATE);
                    continue;
                }
                let speaker = dominant == Some(stream.publisher);
                plan.videos.push(Video {
                    priority: Priority::of(stream.source, publisher.host, speaker),
                    shown: slot.height,
                    layers: track.map(|t| available_layers(t, now)).unwrap_or_default(),
                    current: slot.layer.flatten(),
                    held: slot.lowered_at.is_some_and(|t| now < t + UPGRADE_HOLD),
                    screen: stream.source == Source::Screen,
                    cap_ignored: track.is_some_and(|t| {
                        t.cap_ignored_at.is_some_and(|at| now < at + CAP_DISTRUST)
                    }),
                    paused: slot.paused,
                    waiting: slot
                        .resumed_at
                        .is_some_and(|t| now < t + allocate::FIRST_WAIT)
                        && slot.rewriter.source().is_none(),
                });
                plan.slots.push((i, stream));
                plan.unmeasured.push(track.is_some_and(|t| {
                    t.layers
                        .iter()
                        .all(|l| l.rate.bitrate() == 0 && l.paused_at_source.is_none())
                }));
            }
            plan.wanted = allocate::wanted(plan.audio, &plan.videos);
            plans.push(plan);
        }
        plans
    }

    /// This room's budget: its share of this worker's share of the server's, and its own
    /// limit, whichever is lower; `None`: unlimited. Records its demand for the others.
    fn room_budget(&self, demand: u64, ctx: &mut Ctx) -> Option<u64> {
        if !ctx.config.adaptation {
            return None;
        }
        let room_limit = ctx.config.room_egress_limit;
        let demand = room_limit.map_or(demand, |l| demand.min(l));
        ctx.room_demands.insert(self.id.clone(), demand);
        let from_server = ctx.config.egress.as_ref().and_then(|(budget, index)| {
            let rooms: Vec<(&crate::api::RoomId, u64)> =
                ctx.room_demands.iter().map(|(r, d)| (r, *d)).collect();
            let total = rooms.iter().map(|(_, d)| d).sum();
            let worker = budget.share_of(*index, total)?;
            let demands: Vec<u64> = rooms.iter().map(|(_, d)| *d).collect();
            let shares = allocate::share(worker, &demands);
            let mine = rooms.iter().position(|(r, _)| **r == self.id);
            Some(mine.map_or(0, |i| shares[i]))
        });
        match (from_server, room_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Decides one subscriber's layers within `cap` and carries the decision out; a video it
    /// can take only capped at its publisher lowers that stream's entry in `source_caps`.
    fn apply(
        &mut self,
        mut plan: Plan,
        cap: u64,
        source_caps: &mut FxHashMap<StreamKey, u64>,
        now: Instant,
        ctx: &mut Ctx,
    ) -> SubscriberReport {
        let Some(p) = self.participants.get_mut(&plan.id) else {
            return SubscriberReport::empty(plan.id);
        };
        // An estimate that fell while the page showed no video is not the link's: start
        // again from what it carried when in use (crate::padding::Carried).
        if let Some(e) = plan.estimate.filter(|_| ctx.config.adaptation) {
            let again = p.down.carried.restart(now, plan.wanted, plan.audio, e);
            if let (Some(again), Some(conn)) = (again, p.down.conn.as_mut()) {
                conn.rtc.bwe().reset(str0m::bwe::Bitrate::bps(again));
                conn.dirty = true;
                p.down.estimate = Some(again);
                p.down.sustained.reset();
                plan.estimate = Some(again);
                ctx.stats.estimates_restarted += 1;
            }
        }
        // A link losing a fifth or more of what it was sent is overfull, not noisy: it is
        // decided on GCC's estimate as it stands, not on the average of its last seconds that
        // str0m announces (which held a fall from 2.5 to 0.6 Mbit/s at the old rate for 2 s),
        // until that average has left the time before the fall behind.
        if let Some(conn) = p.down.conn.as_mut().filter(|_| ctx.config.adaptation) {
            let bwe = conn.rtc.bwe();
            if (bwe.egress_loss(OVERFULL_WINDOW, now)).is_some_and(|l| l >= OVERFULL) {
                p.down.overfull_until = Some(now + OVERFULL_HOLD);
            }
            let overfull = p.down.overfull_until.is_some_and(|t| now < t);
            if let (true, Some(e), Some(now_e)) = (overfull, plan.estimate, bwe.current_estimate())
            {
                plan.estimate = Some(e.min(now_e.as_u64()));
            }
        }
        // An overflowing link is taken at what it delivered, which its loss is out of already.
        let overflow = (p.down.overflow).filter(|(t, _)| now < *t && ctx.config.adaptation);
        if let Some((_, delivered)) = overflow {
            plan.estimate = Some(plan.estimate.map_or(delivered, |e| e.min(delivered)));
        }
        let loss = (p.down.link_loss)
            .filter(|_| overflow.is_none())
            .filter(|(_, since)| now < *since + 2 * super::health::LOSS_WINDOW + ALLOCATE_EVERY)
            .map_or(0.0, |(loss, _)| loss);
        // What the link takes: the share of its estimate its media may fill
        // (allocate::LINK_SHARE), less its loss.
        let share = plan.estimate.map(allocate::link_share);
        let within = share.map(|s| allocate::within_loss(s, loss));
        let budget = within.unwrap_or(u64::MAX).min(cap);
        // The subscriber's own link (with its loss) is the limit, not its share of a budget.
        let own_link = within.is_some_and(|w| w <= cap);
        // While a probe has put the estimate far above what the link has shown, raised no
        // further than a step above that (allocate::step_ceiling); not in a path's first
        // seconds, where the first guess and the probes find the link. Judged on the budget,
        // the link's share: a ceiling only once the estimate stands 1.67 times over what was
        // shown. A build judging it on the estimate itself (1.5 times), and deciding at once
        // on any fall of a tenth (`handle_estimate`), dropped 0.6 and 1.6 % in a phase of two
        // of its three impair runs, where the runs judged on the share dropped 0.1 % in one
        // phase of six (docs/benchmarks.md, "GCC counting what the link carries").
        let warming = (p.down.path_since).is_none_or(|s| now < s + WARM_UP);
        let carried = (p.down.conn.as_mut())
            .filter(|_| ctx.config.adaptation && !warming)
            .and_then(|c| c.rtc.bwe().delivered(CARRIED_WINDOW, now));
        let ceiling = carried.map_or(u64::MAX, |c| {
            allocate::step_ceiling(budget, c.as_u64(), p.down.decided.0)
        });
        // A raise that takes a layer from another video is made again on what the link has
        // sustained: the trough of its estimate over the last seconds (crate::sustained), as
        // its share (LINK_SHARE, less loss) in place of the ceiling. Made at a peak of GCC's
        // saw-tooth (the teacher raised to 360p, the thumbnails paused to make room), it was
        // undone at the next trough, with the thumbnails given back. Only where the link
        // limits, not a share of a budget. The trough is kept from the path's first estimate
        // (the first guess held the teacher's raise off in the impair run's first seconds)
        // but applied only after its warm-up.
        if let Some(e) = plan.estimate.filter(|_| ctx.config.adaptation) {
            p.down.sustained.handle_estimate(now, e);
        }
        let sustained = (p.down.sustained.low(now))
            .filter(|_| ctx.config.adaptation && !warming && own_link)
            .map(|low| allocate::within_loss(allocate::link_share(low), loss));
        let was_audio_only = p.down.audio_only;
        let (audio, candidates) = (plan.audio, &plan.videos);
        let decide =
            |limit| allocate::allocate_capped(budget, limit, audio, candidates, was_audio_only);
        let a = decide(ceiling);
        let a = match sustained {
            Some(s) if s < ceiling && a.takes_from_others(candidates, &plan.unmeasured) => {
                decide(s)
            }
            _ => a,
        };
        p.down.audio_only = a.audio_only;
        let mut videos = Vec::with_capacity(plan.slots.len());
        let mut paused = Vec::new();
        // Some video would have been paused on a guessed rate: whether the link limits is not
        // known yet either.
        let mut guessed = false;
        for (k, &(i, stream)) in plan.slots.iter().enumerate() {
            let slot = &mut p.down.slots[i];
            // Not paused on a guess: a video whose rate is not measured yet (a camera without
            // simulcast counts 1.2 Mbit/s by its height until then) keeps the layer it has, or
            // if it has none the one its tile calls for, until its first measurement half a
            // second on. Pausing it would blank a new student's tiles on a link that carries
            // them well, tell the page "paused to save bandwidth" for nothing, and hold it
            // off for UPGRADE_HOLD.
            if a.paused[k] && plan.unmeasured[k] && !slot.paused {
                if slot.layer.flatten().is_none() {
                    slot.layer = None;
                }
                guessed = true;
                continue;
            }
            let (old, new) = (slot.layer.flatten(), a.layers[k]);
            if slot.layer != Some(new) {
                ctx.stats.layer_changes += u64::from(slot.layer.is_some());
                // Lowered or paused for want of bandwidth (below what its tile calls for),
                // from a layer it had: not hidden, shrunk, or never given one yet.
                let ideal = plan.videos[k].ideal_layer();
                let short = ideal.is_some_and(|i| new.is_none_or(|n| n < i));
                let lowered = short && old.is_some_and(|o| new.is_none_or(|n| n < o));
                // Not held while the path warms up: what its first guess paused comes back
                // as soon as the probes find the room.
                if lowered && !warming {
                    slot.lowered_at = Some(now);
                }
                // Lowered because the link no longer carries it: once that link is losing
                // packets too, stop the layer it has now at the end of its frame, not at the
                // lower one's keyframe (a round trip to the publisher and its encoder later,
                // or the keyframe limiter's half second) — sent on, it only fills the queues
                // the link is drowning in (crate::room::forward, `CUT_LOSS`). For a share of
                // a budget the layer runs on to the switch, without a freeze.
                slot.cut = lowered;
                slot.drop_queue = lowered && !warming;
                slot.layer = Some(new);
            }
            // Only for its own link (not a budget, nor without an estimate), whenever lowered.
            slot.cut &= own_link;
            if slot.paused && !a.paused[k] && new.is_some() {
                slot.resumed_at = Some(now);
            }
            slot.paused = a.paused[k];
            if let Some(c) = a.caps[k] {
                let least = source_caps.entry(stream).or_insert(c);
                *least = (*least).min(c);
            }
            if slot.paused {
                paused.push((stream.publisher, stream.source));
            }
            let v = &plan.videos[k];
            let layer = |l: u8| v.layers.iter().find(|x| x.index == l);
            videos.push(VideoReport {
                publisher: stream.publisher,
                source: stream.source,
                shown: v.shown,
                layer: new.and_then(layer).map(|l| LayerReport {
                    index: l.index,
                    height: l.height,
                    bitrate: l.bitrate,
                }),
                paused: slot.paused,
            });
        }
        let link_bound = share.is_some_and(|s| s <= cap);
        let held_back = !guessed && a.used < a.wanted && link_bound;
        let since = match held_back {
            true => Some(*p.down.limited_since.get_or_insert(now)),
            false => None,
        };
        p.down.limited_since = since;
        let limited = since.is_some_and(|s| now >= s + LIMITED_AFTER);
        // Ask GCC to find what the page would show: it probes towards `desired` by itself.
        // While the subscriber's own link holds a video below its tile, pad (in windows while
        // the estimate climbs, see crate::padding) up to what the next step up needs, as GCC
        // keeps its estimate near what is sent. Nothing is padded for an audio-only subscriber
        // (its link is too thin to fill without costing the audio; str0m's probes find video
        // room again), for one that has all it wants, nor for one the budget holds back:
        // padding is egress, and the budget is the school's uplink (the budget run measured
        // 29 % over the limit with it).
        let desired = a.wanted.min(cap);
        p.down.decided = (a.used, plan.estimate.unwrap_or(0));
        // Not padded while its link overflows: the queue drains first.
        let wants_more = overflow.is_none() && a.looks_for_room(link_bound, loss);
        let estimate = plan.estimate.unwrap_or(0);
        // While a host's video is paused for this subscriber, windows come every few seconds.
        let host_missing = (plan.videos.iter().zip(&a.paused))
            .any(|(v, paused)| *paused && v.priority == Priority::Host);
        let padded = p
            .down
            .padding
            .pad(now, wants_more, host_missing, a.used, estimate);
        // The estimate has room for more and only the ceiling holds it back: padding fills
        // the link towards what the allocation without the ceiling would send
        // (allocate::held_by_ceiling), whatever the windows, so the raise follows. That
        // takes in the next step, and also a raise that fits the estimate only with others
        // making way for it (the teacher's 720p layer, host first). `stepping` is the older
        // test, on the next step alone.
        let unbounded = || decide(u64::MAX);
        let held = wants_more
            .then(|| allocate::held_by_ceiling(ceiling, budget, a.used, unbounded))
            .flatten();
        let stepping = wants_more && a.next_step.is_some_and(|n| ceiling < n && n <= budget);
        let padded = padded || stepping || held.is_some();
        // Padding steps too: no more than the ceiling above what the link has shown.
        let minimum = match padded {
            true => (held.or(a.next_step).unwrap_or(0))
                .min(share.unwrap_or(0))
                .min(ceiling),
            false => 0,
        };
        let desired = p.down.padding.desired(desired, estimate);
        if let Some(conn) = p.down.conn.as_mut().filter(|_| ctx.config.adaptation) {
            conn.rtc
                .bwe()
                .set_bitrate(minimum.min(desired).into(), desired.into());
            // Its pacing may change: polled again, so its next timeout is str0m's new one.
            conn.dirty = true;
        }
        paused.sort();
        let told = (paused, limited);
        if p.down.told.as_ref() != Some(&told) {
            tracing::debug!(
                participant = %plan.id,
                estimate = ?plan.estimate,
                cap,
                loss,
                used = a.used,
                wanted = a.wanted,
                paused = told.0.len(),
                limited,
                "subscriber's allocation changed"
            );
            p.down.told = Some(told.clone());
            let event = SfuEvent::Bandwidth {
                paused: told.0,
                limited: told.1,
            };
            ctx.out.push_back(Output::Event {
                room: self.id.clone(),
                participant: plan.id,
                event,
            });
        }
        SubscriberReport {
            participant: plan.id,
            estimate: plan.estimate,
            allocated: a.used,
            wanted: a.wanted,
            limited,
            audio_only: a.audio_only,
            videos,
        }
    }

    /// Tells each publisher which of its encodings nobody takes (off after
    /// [`PAUSE_AT_SOURCE_AFTER`]) and which are wanted again (at once).
    fn pause_at_source(&mut self, now: Instant, ctx: &mut Ctx) {
        if !ctx.config.adaptation {
            return;
        }
        let taken = self.layers_taken();
        let mut events = Vec::new();
        for (&id, p) in &mut self.participants {
            let Some(up) = &mut p.up else { continue };
            for track in up.tracks.iter_mut().filter(|t| t.kind == Kind::Video) {
                let stream = StreamKey {
                    publisher: id,
                    source: track.source,
                };
                let mut active = Vec::with_capacity(track.layers.len());
                let (started, idle) = (track.started.unwrap_or(now), track.idle());
                for (i, layer) in track.layers.iter_mut().enumerate() {
                    let wanted = taken.contains(&(stream, i as u8));
                    if wanted {
                        layer.unwanted_since = None;
                    } else if layer.unwanted_since.is_none() {
                        layer.unwanted_since = Some(now);
                    }
                    // Only an encoding that sends is switched off. One its page stopped by
                    // itself (an uplink too thin for it) is left to the page, which brings it
                    // back when it can: switched off, it was offered again as one that comes
                    // back when asked, given, switched on, gone again, every few seconds.
                    let off = layer
                        .unwanted_since
                        .is_some_and(|t| now >= t + PAUSE_AT_SOURCE_AFTER)
                        && (layer.paused_at_source.is_some() || layer.is_live(started, now, idle));
                    if off != layer.paused_at_source.is_some() {
                        layer.paused_at_source = off.then_some(now);
                        layer.switched_on = (!off).then_some(now);
                        if off {
                            layer.rate.hold();
                        } else if let Some(cap) = track.capped.as_mut().filter(|_| i == 0) {
                            cap.judged_from = now;
                        }
                        *if off {
                            &mut ctx.stats.encodings_paused
                        } else {
                            &mut ctx.stats.encodings_resumed
                        } += 1;
                    }
                    active.push(!off);
                }
                let told = track.told_active.as_ref();
                if told.map_or(active.iter().all(|a| *a), |t| *t == active) {
                    continue;
                }
                let encodings = track
                    .layers
                    .iter()
                    .zip(&active)
                    .map(|(l, a)| (l.rid.map(|r| r.to_string()).unwrap_or_default(), *a))
                    .collect();
                track.told_active = Some(active);
                events.push((id, track.source, encodings));
            }
        }
        for (id, source, encodings) in events {
            self.emit(id, SfuEvent::Encodings { source, encodings }, ctx);
        }
    }

    /// Tells each publisher of a screen share, or of a host's camera, the bit/s to send the
    /// share (the camera's lowest layer) at when a subscriber cannot take it whole (the least
    /// any subscriber can take), and lifts the cap once nobody has needed it for
    /// [`CAP_LIFT_AFTER`]. A cap is changed only when the need moved by more than a fifth, and
    /// raised only [`UPGRADE_HOLD`] after it was last set, so the browser's encoder is not
    /// re-set at every wobble of an estimate.
    fn cap_at_source(&mut self, now: Instant, needed: &FxHashMap<StreamKey, u64>, ctx: &mut Ctx) {
        let mut events = Vec::new();
        for (&id, p) in &mut self.participants {
            let Some(up) = &mut p.up else { continue };
            for track in up.tracks.iter_mut().filter(|t| t.kind == Kind::Video) {
                let stream = StreamKey {
                    publisher: id,
                    source: track.source,
                };
                let need = needed.get(&stream).copied();
                let tell = match (&mut track.capped, need) {
                    (None, None) => None,
                    (None, Some(c)) => {
                        let rate = track.layers.first().map_or(0, |l| l.rate.bitrate());
                        track.capped = Some(SourceCap {
                            told: c,
                            since: now,
                            uncapped: rate.max(c),
                            needed_at: now,
                            retell: false,
                            judged_from: now,
                            window: None,
                        });
                        Some(Some(c))
                    }
                    (Some(cap), Some(c)) => {
                        cap.needed_at = now;
                        // Down at once (the link is full now), up only after a hold, as
                        // layers are.
                        let down = c * 5 < cap.told * 4;
                        let up = c * 4 > cap.told * 5 && now >= cap.since + UPGRADE_HOLD;
                        let moved = down || up;
                        (moved || cap.retell).then(|| {
                            cap.told = c;
                            cap.since = now;
                            cap.judged_from = now;
                            cap.retell = false;
                            Some(c)
                        })
                    }
                    (Some(cap), None) if now >= cap.needed_at + CAP_LIFT_AFTER => {
                        // Switched off at its page under the cap, it comes back without one.
                        if let Some(first) = track.layers.first_mut() {
                            first.rate.raise_held(cap.uncapped);
                        }
                        track.capped = None;
                        Some(None)
                    }
                    (Some(cap), None) if cap.retell => {
                        // Told again after a resume, as it still holds.
                        cap.retell = false;
                        cap.judged_from = now;
                        Some(Some(cap.told))
                    }
                    (Some(_), None) => None,
                };
                if let Some(wire) = tell {
                    let (count, max_bitrate) = match track.source {
                        Source::Screen => (&mut ctx.stats.screen_caps, wire),
                        _ => (
                            &mut ctx.stats.camera_caps,
                            wire.map(|c| c * 100 / (100 + CAMERA_CAP_OVERHEAD)),
                        ),
                    };
                    *count += 1;
                    events.push((id, track.source, max_bitrate));
                }
            }
        }
        self.tell_caps(events, ctx);
    }

    /// Every (stream, layer) some subscriber takes or is about to: the allocator's layer (the
    /// lowest for one paused for want of bandwidth), or before its first decision the one the
    /// tile's height calls for.
    fn layers_taken(&self) -> Vec<(StreamKey, u8)> {
        let now = self.last_now;
        let mut taken = Vec::new();
        for p in self.participants.values() {
            for slot in p.down.slots.iter().filter(|s| s.kind == Kind::Video) {
                let Some(stream) = slot.target else { continue };
                let layer = match slot.layer {
                    // Paused for want of bandwidth: its lowest layer stays on, so it comes
                    // back through that one and not through a large keyframe of whatever
                    // other layer still runs.
                    Some(None) if slot.paused => Some(0),
                    Some(l) => l,
                    None => slot.height.and_then(|h| {
                        let up = self.participants.get(&stream.publisher)?.up.as_ref()?;
                        let t = up.tracks.iter().find(|t| t.source == stream.source)?;
                        t.layer_for(h, now).or(Some(0))
                    }),
                };
                taken.extend(layer.map(|l| (stream, l)));
            }
        }
        taken
    }
}

/// The layers of an up track the allocator may give out: those sending now, those only
/// switched off because nobody took them (they come back when asked for), and those switched
/// on again whose first packet has not come yet.
fn available_layers(track: &UpTrack, now: Instant) -> Vec<Layer> {
    let (started, idle) = (track.started.unwrap_or(now), track.idle());
    track
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.is_live(started, now, idle)
                || l.paused_at_source.is_some()
                || l.switched_on.is_some_and(|t| now < t + SWITCH_ON_GRACE)
        })
        .map(|(i, l)| {
            // The cap is on the first encoding.
            let uncapped = track.capped.filter(|_| i == 0).map_or(0, |c| c.uncapped);
            let measured = l.rate.bitrate();
            Layer {
                index: i as u8,
                height: l.height,
                bitrate: if measured > 0 && l.paused_at_source.is_none() {
                    measured.max(uncapped)
                } else {
                    nominal_bitrate(l.height).max(uncapped)
                },
            }
        })
        .collect()
}

impl SubscriberReport {
    fn empty(participant: ParticipantId) -> SubscriberReport {
        SubscriberReport {
            participant,
            estimate: None,
            allocated: 0,
            wanted: 0,
            limited: false,
            audio_only: false,
            videos: Vec::new(),
        }
    }
}
