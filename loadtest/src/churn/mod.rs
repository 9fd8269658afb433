//! The `churn` scenario's own parts: when who leaves and comes back, and what came of it.
//!
//! [`schedule`] spreads each room's churn events over the run at seeded random times, each
//! naming a seat (the host's included), a way back (resume or rejoin) and a pause; a
//! [`Conductor`] sends them to the bots as they fall due, moving an event to another bot of
//! the room when the named one is still away from its last; and [`ChurnReport`] says what the
//! stayers saw meanwhile.
//!
//! # Layout
//! - `mod.rs`: the spec, the schedule and the conductor.
//! - `report`: the report section: resumes, rejoins, failed renegotiations, stayer gaps.

mod report;

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::scenario::BotPlan;
use crate::{BotHandle, BotStats, Churn};

pub use report::{ChurnCounts, ChurnReport, ConductedReport, MAX_STAYER_GAP};

/// How much churn, and of which kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnSpec {
    /// Churn events per room per minute.
    pub per_min: f64,
    /// The share of events that resume (the rest rejoin), 0 to 1.
    pub resume_share: f64,
}

impl Default for ChurnSpec {
    /// The rate: ten a minute in a room of ten is each person once a minute, far more
    /// than a real lesson sees, which is the point; half resumes, half rejoins.
    fn default() -> Self {
        ChurnSpec {
            per_min: 10.0,
            resume_share: 0.5,
        }
    }
}

/// The shortest and longest time a churning bot stays away, drawn evenly: 0.5 s is a Wi-Fi
/// blip (the web client's first reconnect waits as long); 3 s is a reload or a change of
/// network. Both far inside the server's 30 s resume grace.
pub const PAUSE: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(3));

/// Churn starts this long after the last bot started, and gaps count from then: by then every
/// bot has joined and receives (first media p95 is under 1 s in a release run, and under 3 s
/// in a debug test on a busy machine).
pub const WARMUP: Duration = Duration::from_secs(5);

/// After a churner is back, the room's renegotiations settle within this: each other member's
/// subscribe offer and answer (a few milliseconds each) and a keyframe for the new stream
/// (keyframe requests are answered within a second). A gap in this window is the churn's.
pub const SETTLE: Duration = Duration::from_secs(2);

/// No churn starts in the last part of a run, so the last churner is back and settled before
/// the end: the longest pause, a join with time to spare (3 s), and [`SETTLE`].
pub const COOLDOWN: Duration = Duration::from_secs(PAUSE.1.as_secs() + 3 + SETTLE.as_secs());

/// At most this many events per room per minute: one a second, more than any room of bots
/// can come back from, and it keeps a run's event count bounded.
pub const MAX_PER_MIN: f64 = 60.0;

/// One planned churn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnEvent {
    /// When, from the start of the run.
    pub at: Duration,
    /// Which room.
    pub room: usize,
    /// Which of the room's bots, in join order (0 is the host).
    pub seat: usize,
    /// Resume or rejoin.
    pub how: Churn,
    /// How long it stays away.
    pub pause: Duration,
}

/// The span of the run in which churn events start: after the warm-up, before the cool-down.
/// `None` when the run is too short for both.
pub fn event_window(ramp: Duration, duration: Duration) -> Option<(Duration, Duration)> {
    let from = ramp + WARMUP;
    let to = (ramp + duration).checked_sub(COOLDOWN)?;
    (to > from).then_some((from, to))
}

/// Every room's churn events, sorted by time: `per_min` times the window's minutes per room
/// (rounded), at seeded random times in the window.
pub fn schedule(
    spec: &ChurnSpec,
    room_sizes: &[usize],
    ramp: Duration,
    duration: Duration,
    seed: u64,
) -> Vec<ChurnEvent> {
    let Some((from, to)) = event_window(ramp, duration) else {
        return Vec::new();
    };
    let window = to - from;
    let per_room = (spec.per_min * window.as_secs_f64() / 60.0).round() as usize;
    // Its own stream, so the churn does not change with the bots' frame sizes.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0063_6875_726e);
    let mut events = Vec::new();
    for (room, size) in room_sizes.iter().enumerate() {
        for _ in 0..per_room {
            let pause = PAUSE.0 + (PAUSE.1 - PAUSE.0).mul_f64(rng.random::<f64>());
            events.push(ChurnEvent {
                at: from + window.mul_f64(rng.random::<f64>()),
                room,
                seat: rng.random_range(0..(*size).max(1)),
                how: if rng.random::<f64>() < spec.resume_share {
                    Churn::Resume
                } else {
                    Churn::Rejoin
                },
                pause,
            });
        }
    }
    events.sort_by_key(|e| e.at);
    events
}

/// What a [`Conductor`] did with the schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conducted {
    /// Events in the schedule.
    pub planned: usize,
    /// Sent to a bot.
    pub sent: usize,
    /// Dropped: every bot of the room was still away from an earlier event (or had ended).
    pub skipped: usize,
}

/// Sends the schedule's events to the bots as they fall due.
pub struct Conductor {
    events: Vec<ChurnEvent>,
    next: usize,
    start: Instant,
    /// The plan indexes of each room's bots, in seat order.
    seats: Vec<Vec<usize>>,
    /// Per bot: when it was last sent an event.
    sent: Vec<Option<Instant>>,
    /// Per bot: whether its latest answered snapshot showed it away, and when that snapshot
    /// was asked for (an event sent after that is not in it).
    seen: Vec<(bool, Option<Instant>)>,
    /// Picks a stand-in when the scheduled bot is away.
    rng: StdRng,
    done: Conducted,
}

impl Conductor {
    /// A conductor for `events`, in a run that started at `start` with the bots of `plan`.
    pub fn new(events: Vec<ChurnEvent>, plan: &[BotPlan], start: Instant, seed: u64) -> Self {
        let rooms = plan.iter().map(|b| b.room + 1).max().unwrap_or(0);
        let mut seats = vec![Vec::new(); rooms];
        for (i, b) in plan.iter().enumerate() {
            seats[b.room].push(i);
        }
        let done = Conducted {
            planned: events.len(),
            ..Conducted::default()
        };
        Conductor {
            events,
            next: 0,
            start,
            seats,
            sent: vec![None; plan.len()],
            seen: vec![(false, None); plan.len()],
            rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
            done,
        }
    }

    /// When the next event falls due, if any is left.
    pub fn next_due(&self) -> Option<Instant> {
        self.events.get(self.next).map(|e| self.start + e.at)
    }

    /// What it has done so far.
    pub fn conducted(&self) -> Conducted {
        self.done
    }

    /// Notes a bot's snapshot, asked for at `asked`.
    pub fn handle_snapshot(&mut self, bot: usize, stats: &BotStats, asked: Instant) {
        if let Some(seen) = self.seen.get_mut(bot) {
            *seen = (stats.churning().is_some(), Some(asked));
        }
    }

    /// Sends every event due at `now` to its bot, or to another bot of its room if that one
    /// is away; `bots` are the bots started so far, in plan order.
    pub fn fire_due(&mut self, now: Instant, bots: &[BotHandle]) {
        while let Some(e) = self.events.get(self.next).copied() {
            if self.start + e.at > now {
                return;
            }
            self.next += 1;
            let Some(bot) = self.pick(&e, bots) else {
                self.done.skipped += 1;
                continue;
            };
            if bots[bot].start_churn(e.how, e.pause) {
                self.sent[bot] = Some(now);
                self.done.sent += 1;
            } else {
                self.done.skipped += 1;
            }
        }
    }

    /// The event's bot if it is free, else a free one of its room at random.
    fn pick(&mut self, e: &ChurnEvent, bots: &[BotHandle]) -> Option<usize> {
        let seats = self.seats.get(e.room)?;
        let free: Vec<usize> = seats
            .iter()
            .copied()
            .filter(|&i| self.is_free(i, bots))
            .collect();
        let wanted = seats.get(e.seat).copied();
        if let Some(bot) = wanted.filter(|b| free.contains(b)) {
            return Some(bot);
        }
        (!free.is_empty()).then(|| free[self.rng.random_range(0..free.len())])
    }

    /// Started, running, and neither away nor sent an event its latest snapshot cannot show.
    fn is_free(&self, bot: usize, bots: &[BotHandle]) -> bool {
        let Some(handle) = bots.get(bot) else {
            return false;
        };
        let (away, asked) = self.seen[bot];
        let unseen = match (self.sent[bot], asked) {
            (Some(sent), Some(asked)) => sent >= asked,
            (Some(_), None) => true,
            (None, _) => false,
        };
        !handle.is_finished() && !away && !unseen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(per_min: f64, resume_share: f64) -> ChurnSpec {
        ChurnSpec {
            per_min,
            resume_share,
        }
    }

    #[test]
    fn events_fall_in_the_window_at_the_rate_asked() {
        let ramp = Duration::from_millis(200);
        let duration = Duration::from_secs(73);
        let events = schedule(&spec(10.0, 0.5), &[10, 10, 10], ramp, duration, 1);
        // 73 - 5 - 8 = 60 s of window: ten per room.
        assert_eq!(events.len(), 30);
        let (from, to) = event_window(ramp, duration).expect("long enough");
        assert!(events.iter().all(|e| e.at >= from && e.at <= to));
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        for room in 0..3 {
            assert_eq!(events.iter().filter(|e| e.room == room).count(), 10);
        }
        assert!(events.iter().all(|e| e.seat < 10));
        assert!(
            events
                .iter()
                .all(|e| e.pause >= PAUSE.0 && e.pause <= PAUSE.1)
        );
        let resumes = events.iter().filter(|e| e.how == Churn::Resume).count();
        assert!((5..=25).contains(&resumes), "{resumes} of 30");
    }

    #[test]
    fn the_same_seed_gives_the_same_churn() {
        let d = Duration::from_secs(120);
        let a = schedule(&spec(10.0, 0.5), &[5], Duration::ZERO, d, 7);
        assert_eq!(a, schedule(&spec(10.0, 0.5), &[5], Duration::ZERO, d, 7));
        assert_ne!(a, schedule(&spec(10.0, 0.5), &[5], Duration::ZERO, d, 8));
    }

    #[test]
    fn the_mix_follows_the_share() {
        let d = Duration::from_secs(120);
        let all = schedule(&spec(30.0, 1.0), &[5], Duration::ZERO, d, 1);
        assert!(all.iter().all(|e| e.how == Churn::Resume));
        let none = schedule(&spec(30.0, 0.0), &[5], Duration::ZERO, d, 1);
        assert!(none.iter().all(|e| e.how == Churn::Rejoin));
    }

    #[test]
    fn a_run_too_short_for_warm_up_and_cool_down_has_no_churn() {
        let d = WARMUP + COOLDOWN;
        assert_eq!(event_window(Duration::ZERO, d), None);
        assert!(schedule(&spec(60.0, 0.5), &[5], Duration::ZERO, d, 1).is_empty());
        assert!(event_window(Duration::ZERO, d + Duration::from_secs(1)).is_some());
    }
}
