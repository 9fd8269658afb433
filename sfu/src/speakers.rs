//! Active-speaker detection from the audio level header extension (RFC 6464): who is talking,
//! loudest first, and the dominant speaker. Pure logic: levels come in with their packet's
//! time, decisions come out of a tick the room drives, and only when they changed.
//!
//! A publisher's level is the mean power of its packets over the last two ticks (200 to 400 ms,
//! 10 to 20 packets of 20 ms): long enough that a cough or a click is not a change of speaker,
//! short enough that a tile lights up while the first word is still being said. The mean is
//! taken of power, not of the dB values the extension carries: speech comes in syllables with
//! near-silent gaps between them, and a mean of dB values lets the gaps (-127 in a browser's
//! digital silence) drown the syllables; measured with Chromium's test microphone, which beeps
//! at -8 dBov twice a second, the dB mean over 400 ms is about -75, the power mean about -20.
//! A publisher that sent nothing during a whole tick is forgotten, so a room where nobody
//! sends audio stops ticking.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::api::ParticipantId;

/// How often speakers are decided, and so the most often a room hears of a change (5/s).
pub const TICK: Duration = Duration::from_millis(200);
/// Ticks a level is averaged over.
const WINDOW: usize = 2;
/// A publisher starts speaking when its mean level reaches this (dBov: 0 is full scale, -127
/// silence). Browsers report speech near a laptop's microphone at about -20 to -40 and a quiet
/// classroom at -60 and below.
pub const SPEAKING_DBOV: i32 = -50;
/// A speaker stops speaking when its mean level falls below this: 5 dB of hysteresis, so a
/// speaker who pauses between words does not drop out of the list.
pub const SILENT_DBOV: i32 = -55;
/// How long a publisher must be the loudest speaker before it becomes dominant.
pub const DOMINANT_HOLD: Duration = Duration::from_millis(400);
/// While the dominant speaker still speaks, another must be this much louder (dB) to take over,
/// so two people talking at once do not make the large tile flip between them.
pub const SWITCH_MARGIN_DB: i32 = 6;

/// What the room is told: who speaks, loudest first, and the dominant speaker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub speaking: Vec<ParticipantId>,
    pub dominant: Option<ParticipantId>,
}

#[derive(Debug, Default)]
pub(crate) struct Speakers {
    levels: BTreeMap<ParticipantId, Level>,
    dominant: Option<ParticipantId>,
    /// The loudest speaker that is not dominant, and since when it has been the loudest.
    candidate: Option<(ParticipantId, Instant)>,
    /// What the room was last told.
    announced: Snapshot,
    next_tick: Option<Instant>,
    /// Scratch for (mean level, publisher) of this tick's speakers; kept to reuse its buffer.
    ranked: Vec<(i32, ParticipantId)>,
}

/// Sums of one publisher's packet powers (linear, 1.0 = full scale) and their counts per tick.
#[derive(Debug, Default)]
struct Level {
    sums: [f32; WINDOW],
    counts: [u32; WINDOW],
    current: usize,
    speaking: bool,
}

impl Level {
    /// The mean over the window in dBov, if any packet came; then starts a new tick.
    fn roll(&mut self) -> Option<i32> {
        let count: u32 = self.counts.iter().sum();
        let mean = (count > 0).then(|| {
            let power = self.sums.iter().sum::<f32>() / count as f32;
            ((10.0 * power.log10()).round() as i32).max(-127)
        });
        self.current = (self.current + 1) % WINDOW;
        self.sums[self.current] = 0.0;
        self.counts[self.current] = 0;
        mean
    }

    fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }
}

impl Speakers {
    // ---- getters ----

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// What a newcomer should be told, unless it is the empty state it assumes anyway.
    pub fn announced(&self) -> Option<&Snapshot> {
        (self.announced != Snapshot::default()).then_some(&self.announced)
    }

    // ---- inputs ----

    /// One audio packet's level in dBov (-127..=0) from a publisher whose microphone is open.
    /// On the packet path: no allocation after a publisher's first packet.
    pub fn handle_level(&mut self, publisher: ParticipantId, dbov: i8, now: Instant) {
        let power = 10f32.powf(f32::from(dbov.clamp(-127, 0)) / 10.0);
        let level = self.levels.entry(publisher).or_default();
        let i = level.current;
        level.sums[i] += power;
        level.counts[i] = level.counts[i].saturating_add(1);
        self.next_tick.get_or_insert(now + TICK);
    }

    /// The publisher's microphone was muted: its level is forgotten, so it leaves `speaking`
    /// on the next tick. It stays dominant if it was.
    pub fn handle_mute(&mut self, publisher: ParticipantId, now: Instant) {
        self.levels.remove(&publisher);
        if self.candidate.is_some_and(|(c, _)| c == publisher) {
            self.candidate = None;
        }
        self.arm(now);
    }

    /// The participant left the room: as muted, and no longer dominant.
    pub fn handle_leave(&mut self, participant: ParticipantId, now: Instant) {
        self.handle_mute(participant, now);
        if self.dominant == Some(participant) {
            self.dominant = None;
        }
    }

    /// Decides who speaks if a tick is due; returns the new state if it changed.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<&Snapshot> {
        if self.next_tick.is_none_or(|t| t > now) {
            return None;
        }
        self.rank();
        self.choose_dominant(now);
        let at_rest = self.levels.is_empty() && self.ranked.is_empty();
        self.next_tick = (!at_rest).then_some(now + TICK);
        let speaking = self.ranked.iter().map(|(_, id)| *id);
        if speaking.clone().eq(self.announced.speaking.iter().copied())
            && self.dominant == self.announced.dominant
        {
            return None;
        }
        self.announced.speaking.clear();
        self.announced.speaking.extend(speaking);
        self.announced.dominant = self.dominant;
        Some(&self.announced)
    }

    // ---- helpers ----

    /// A change that the room must hear of on the next tick, even if no audio flows.
    fn arm(&mut self, now: Instant) {
        if self.announced != Snapshot::default() {
            self.next_tick.get_or_insert(now + TICK);
        }
    }

    /// Fills `ranked` with this tick's speakers, loudest first, and forgets the silent.
    fn rank(&mut self) {
        self.ranked.clear();
        for (id, level) in &mut self.levels {
            let threshold = if level.speaking {
                SILENT_DBOV
            } else {
                SPEAKING_DBOV
            };
            let mean = level.roll();
            level.speaking = mean.is_some_and(|m| m >= threshold);
            if let (true, Some(mean)) = (level.speaking, mean) {
                self.ranked.push((mean, *id));
            }
        }
        self.levels.retain(|_, l| !l.is_empty());
        self.ranked
            .sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    }

    fn choose_dominant(&mut self, now: Instant) {
        let Some(&(loudest_mean, loudest)) = self.ranked.first() else {
            self.candidate = None;
            return;
        };
        let dominant_mean = self
            .ranked
            .iter()
            .find(|(_, id)| Some(*id) == self.dominant)
            .map(|(mean, _)| *mean);
        let takes_over = match dominant_mean {
            _ if Some(loudest) == self.dominant => false,
            Some(d) => loudest_mean >= d + SWITCH_MARGIN_DB,
            None => true,
        };
        if !takes_over {
            self.candidate = None;
            return;
        }
        match self.candidate {
            Some((c, since)) if c == loudest => {
                if now.saturating_duration_since(since) >= DOMINANT_HOLD {
                    self.dominant = Some(loudest);
                    self.candidate = None;
                }
            }
            _ => self.candidate = Some((loudest, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: Duration = Duration::from_millis(20);
    const A: ParticipantId = ParticipantId(1);
    const B: ParticipantId = ParticipantId(2);

    /// A room fed 20 ms packets, ticking as a room would; records every announcement.
    struct Run {
        s: Speakers,
        now: Instant,
        announced: Vec<(Duration, Snapshot)>,
        start: Instant,
    }

    impl Run {
        fn new() -> Run {
            let now = Instant::now();
            Run {
                s: Speakers::default(),
                now,
                announced: Vec::new(),
                start: now,
            }
        }

        /// Each publisher sends packets at its level for `d`.
        fn talk(&mut self, levels: &[(ParticipantId, i8)], d: Duration) {
            let end = self.now + d;
            while self.now < end {
                for (who, dbov) in levels {
                    self.s.handle_level(*who, *dbov, self.now);
                }
                self.now += PACKET;
                self.tick();
            }
        }

        fn tick(&mut self) {
            if let Some(snap) = self.s.handle_timeout(self.now) {
                self.announced.push((self.now - self.start, snap.clone()));
            }
        }

        fn last(&self) -> Snapshot {
            self.announced
                .last()
                .map(|a| a.1.clone())
                .unwrap_or_default()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn syllables_with_silent_gaps_are_speech() {
        // Chromium's test microphone, as its packets' levels arrive: a beep at -8 dBov every
        // 500 ms that fades over 350 ms, digital silence between. B is a steady quiet room.
        let fade: [i8; 18] = [
            -13, -8, -22, -32, -36, -40, -43, -46, -50, -54, -59, -63, -72, -76, -80, -87, -92,
            -108,
        ];
        let mut run = Run::new();
        for _ in 0..6 {
            for i in 0..25 {
                let a = fade.get(i).copied().unwrap_or(-127);
                run.talk(&[(A, a), (B, -65)], PACKET);
            }
        }
        assert_eq!(run.last().dominant, Some(A), "{:?}", run.announced);
        let b_spoke = run.announced.iter().any(|(_, s)| s.speaking.contains(&B));
        assert!(!b_spoke, "room noise at -65 is not speech");
    }

    #[test]
    fn loud_publisher_speaks_at_once_and_dominates_after_the_hold() {
        let mut r = Run::new();
        r.talk(&[(A, -25), (B, -75)], ms(2000));
        assert_eq!(r.announced.len(), 2, "{:?}", r.announced);
        let (at, first) = &r.announced[0];
        assert_eq!(first.speaking, [A]);
        assert_eq!(first.dominant, None);
        assert!(*at <= ms(400), "speaking after {at:?}");
        let (at, second) = &r.announced[1];
        assert_eq!(second.dominant, Some(A));
        assert!(*at >= ms(400) && *at <= ms(1000), "dominant after {at:?}");
    }

    #[test]
    fn nothing_is_announced_while_nobody_speaks() {
        let mut r = Run::new();
        r.talk(&[(A, -70), (B, -127)], ms(3000));
        assert!(r.announced.is_empty(), "{:?}", r.announced);
    }

    #[test]
    fn dominant_stays_through_silence_and_moves_to_the_next_speaker() {
        let mut r = Run::new();
        r.talk(&[(A, -20), (B, -90)], ms(1500));
        r.talk(&[(A, -90), (B, -90)], ms(3000));
        assert_eq!(
            r.last(),
            Snapshot {
                speaking: vec![],
                dominant: Some(A)
            }
        );
        let before = r.announced.len();
        r.talk(&[(A, -90), (B, -30)], ms(1500));
        assert_eq!(r.last().dominant, Some(B));
        assert_eq!(r.announced.len(), before + 2, "speaking, then dominant");
    }

    #[test]
    fn two_speakers_at_once_do_not_make_the_dominant_flap() {
        let mut r = Run::new();
        r.talk(&[(A, -30), (B, -90)], ms(1000));
        assert_eq!(r.last().dominant, Some(A));
        // B joins in a little louder; they alternate being the loudest every 100 ms.
        for _ in 0..20 {
            r.talk(&[(A, -30), (B, -27)], ms(100));
            r.talk(&[(A, -28), (B, -30)], ms(100));
        }
        assert!(r.announced.iter().all(|(_, s)| s.dominant != Some(B)));
        assert!(r.announced.len() <= 2 + 4 * 5 * 2, "at most five a second");
    }

    #[test]
    fn a_muted_speaker_leaves_speaking_on_the_next_tick_but_stays_dominant() {
        let mut r = Run::new();
        r.talk(&[(A, -20)], ms(1000));
        assert_eq!(r.last().speaking, [A]);
        let muted_at = r.now;
        r.s.handle_mute(A, r.now);
        r.talk(&[], TICK);
        let (at, snap) = r.announced.last().expect("announced");
        assert!(r.start + *at <= muted_at + TICK);
        assert_eq!(snap.speaking, []);
        assert_eq!(snap.dominant, Some(A));
    }

    #[test]
    fn the_dominant_leaving_clears_dominant() {
        let mut r = Run::new();
        r.talk(&[(A, -20)], ms(1000));
        r.s.handle_leave(A, r.now);
        r.talk(&[], ms(400));
        assert_eq!(r.last(), Snapshot::default());
    }

    #[test]
    fn an_idle_room_stops_ticking() {
        let mut r = Run::new();
        assert_eq!(r.s.poll_timeout(), None);
        r.talk(&[(A, -20)], ms(1000));
        assert!(r.s.poll_timeout().is_some());
        r.talk(&[], ms(1000));
        assert_eq!(r.s.poll_timeout(), None, "nobody sends, nobody speaks");
        assert_eq!(r.s.announced().map(|s| s.dominant), Some(Some(A)));
    }

    #[test]
    fn levels_out_of_range_do_not_panic() {
        let mut s = Speakers::default();
        let now = Instant::now();
        for dbov in [i8::MIN, 5, i8::MAX] {
            s.handle_level(A, dbov, now);
        }
        assert!(s.handle_timeout(now + TICK).is_some());
    }
}
