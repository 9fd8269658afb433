//! The RTP header a subscriber sees on one m-line, whatever feeds it.
//!
//! A down slot forwards packets from one *source* at a time: one simulcast layer of one up track
//! incarnation. Sources change — a layer switch, a publisher that reconnects, a slot reused for
//! another person — but the subscriber's decoder must see one unbroken stream: sequence numbers
//! that go on by one, RTP timestamps that go on by the time that passed, VP8 picture ids and
//! TL0PICIDX that go on by one. Within a source, gaps stay gaps (so the subscriber NACKs what the
//! SFU never got, and the repair fills the same hole) and late packets keep their place.
//!
//! Two things in a source are not forwarded and leave no gap: packets with nothing in them
//! (padding only: a publisher probing its own uplink, which is no use to any subscriber and a
//! flood of which would be multiplied by every one of them), and a forward jump of more than
//! [`MAX_JUMP`] sequence numbers (no loss anyone could repair: left as a hole, the subscriber
//! would ask for thousands of packets nobody has; the stream goes on from the next number, and
//! its decoder asks for the keyframe it needs). Numbers that start again far behind (two in a
//! row more than [`MAX_LATE`] back: a publisher that restarted its numbering) go on the same
//! way; one such packet alone is dropped (no repair comes from that far back). str0m already
//! drops what is more than 100 behind its newest as a replay; this rule does not rely on it.
//!
//! Sans-IO and pure: [`Rewriter::switch`] starts a source at a packet (a keyframe for video, the
//! caller's rule), [`Rewriter::map`] gives each packet of the current source its outgoing values,
//! or `None` for packets from before the switch, and [`Rewriter::skip`] passes over an empty one.

use std::collections::VecDeque;
use std::time::Instant;

/// Which source a slot forwards: an up track incarnation and a layer of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId {
    pub incarnation: u64,
    pub layer: u8,
}

/// What the rewriter reads of an incoming packet.
#[derive(Debug, Clone, Copy)]
pub struct InPacket {
    /// Extended sequence number (str0m's: no wrap).
    pub seq: u64,
    pub ts: u32,
    pub at: Instant,
    pub clock_rate: u32,
    /// VP8's picture id (and whether it is 15 bit) and TL0PICIDX, if the descriptor has them.
    pub vp8: Option<Vp8Ids>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Ids {
    pub picture_id: Option<(u16, bool)>,
    pub tl0: Option<u8>,
}

/// What the subscriber gets instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutHeader {
    pub seq: u64,
    pub ts: u32,
    pub picture_id: Option<u16>,
    pub tl0: Option<u8>,
}

/// The first outgoing sequence number of a stream: low, so the SRTP rollover counter starts at
/// 0 as a receiver assumes (str0m's `RtpWrite` docs), and never 0.
const FIRST_SEQ: u64 = 1;

/// A forward jump in a source's sequence numbers beyond which it goes on from the next number
/// instead of leaving a hole (RFC 3550's MAX_DROPOUT).
pub const MAX_JUMP: u64 = 3000;

/// How far behind the newest packet a packet is still a late one (a repair, a reordering):
/// str0m asks again only for the last 100.
pub const MAX_LATE: u64 = 1000;

/// Skipped (empty) packets remembered for late packets to be numbered around; an older one is
/// folded into the offset, and packets from before it are dropped (far too late to matter).
const SKIPPED_KEPT: usize = 256;

#[derive(Debug, Default)]
pub struct Rewriter {
    source: Option<SourceId>,
    /// The first incoming sequence number of the current source: earlier ones are dropped.
    start_seq: u64,
    seq_offset: u64,
    /// The newest incoming sequence number of the current source.
    newest_in: u64,
    /// Incoming sequence numbers skipped as empty since `start_seq`, ascending: a packet's
    /// outgoing number is its own plus the offset less the skipped ones before it.
    skipped: VecDeque<u64>,
    /// The last packet that came more than [`MAX_LATE`] behind (dropped).
    behind: Option<u64>,
    ts_offset: u32,
    pic_offset: u16,
    tl0_offset: u8,
    /// The highest outgoing sequence number so far.
    last_seq: Option<u64>,
    /// The outgoing timestamp of the newest packet, when it was sent, and its clock rate.
    last_ts: Option<(u32, Instant, u32)>,
    last_pic: Option<(u16, bool)>,
    last_tl0: Option<u8>,
}

impl Rewriter {
    // ---- getters ----

    pub fn source(&self) -> Option<SourceId> {
        self.source
    }

    // ---- inputs ----

    /// Forwards nothing until the next [`Rewriter::switch`] (a video slot's next keyframe),
    /// keeping the numbers to continue from.
    pub fn hold(&mut self) {
        self.source = None;
    }

    /// The packets numbered `first..=last` were the last ones mapped, and were never sent
    /// (dropped while waiting in the pacer's queue): the next [`Rewriter::switch`] numbers on
    /// from the one before `first`, so the subscriber sees no gap, counts no loss and asks for
    /// nothing. For a slot that maps nothing more of its source until that switch. Anything
    /// else (the numbers not the last mapped) leaves the numbering as it is.
    pub fn unsend(&mut self, first: u64, last: u64) {
        if self.last_seq == Some(last) && first <= last {
            self.last_seq = first.checked_sub(1);
        }
    }

    /// From now on the slot forwards `source`, starting with packet `first`. The first packet
    /// continues the stream: the next sequence number, the timestamp advanced by the wall-clock
    /// time since the last packet, the next picture id and TL0PICIDX.
    pub fn switch(&mut self, source: SourceId, first: &InPacket) {
        self.source = Some(source);
        self.continue_at(first.seq);
        self.ts_offset = match self.last_ts {
            None => 0,
            Some((ts, at, rate)) => {
                let gap = first.at.saturating_duration_since(at);
                let ticks = (gap.as_micros() as u64 * u64::from(rate) / 1_000_000).max(1);
                ts.wrapping_add(ticks as u32).wrapping_sub(first.ts)
            }
        };
        let ids = first.vp8.unwrap_or(Vp8Ids {
            picture_id: None,
            tl0: None,
        });
        if let (Some((pic, wide)), Some((last, _))) = (ids.picture_id, self.last_pic) {
            self.pic_offset = last.wrapping_add(1).wrapping_sub(pic) & mask(wide);
        } else {
            self.pic_offset = 0;
        }
        if let (Some(tl0), Some(last)) = (ids.tl0, self.last_tl0) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
        } else {
            self.tl0_offset = 0;
        }
    }

    /// Packet `p` of `source` has nothing in it: if it is the newest, the next one takes its
    /// number (a late empty one is mapped as any other, filling its own hole). True if skipped.
    pub fn skip(&mut self, source: SourceId, p: &InPacket) -> bool {
        if self.source != Some(source) {
            return false;
        }
        if p.seq <= self.newest_in {
            // Skipped before (a copy): skipped again, it has no number of its own.
            return self.skipped.binary_search(&p.seq).is_ok();
        }
        self.follow(p.seq);
        self.newest_in = p.seq;
        self.skipped.push_back(p.seq);
        if self.skipped.len() > SKIPPED_KEPT {
            let folded = self.skipped.pop_front().expect("not empty");
            self.seq_offset = self.seq_offset.wrapping_sub(1);
            self.start_seq = folded + 1;
        }
        true
    }

    /// The outgoing header of a packet from `source`, or `None` if it is not the current source
    /// or came before the switch.
    pub fn map(&mut self, source: SourceId, p: &InPacket) -> Option<OutHeader> {
        if self.source != Some(source) {
            return None;
        }
        if p.seq + MAX_LATE < self.newest_in {
            if self.behind.is_some_and(|b| b + 1 == p.seq) {
                self.continue_at(p.seq);
            } else {
                self.behind = Some(p.seq);
                return None;
            }
        }
        // Two far behind count only in a row.
        self.behind = None;
        if p.seq < self.start_seq || self.skipped.binary_search(&p.seq).is_ok() {
            // Before the switch, or a number skipped as empty (its next packet has it).
            return None;
        }
        self.follow(p.seq);
        self.newest_in = self.newest_in.max(p.seq);
        let before = self.skipped.partition_point(|&s| s < p.seq) as u64;
        let seq = p.seq.wrapping_add(self.seq_offset).wrapping_sub(before);
        let ts = p.ts.wrapping_add(self.ts_offset);
        if self.last_seq.is_none_or(|last| seq > last) {
            self.last_seq = Some(seq);
            self.last_ts = Some((ts, p.at, p.clock_rate));
        }
        let ids = p.vp8.unwrap_or(Vp8Ids {
            picture_id: None,
            tl0: None,
        });
        let picture_id = ids.picture_id.map(|(pic, wide)| {
            let out = pic.wrapping_add(self.pic_offset) & mask(wide);
            if self.last_pic.is_none_or(|(last, _)| newer(out, last, wide)) {
                self.last_pic = Some((out, wide));
            }
            out
        });
        let tl0 = ids.tl0.map(|tl0| {
            let out = tl0.wrapping_add(self.tl0_offset);
            if self
                .last_tl0
                .is_none_or(|last| out.wrapping_sub(last) < 128)
            {
                self.last_tl0 = Some(out);
            }
            out
        });
        Some(OutHeader {
            seq,
            ts,
            picture_id,
            tl0,
        })
    }
}

impl Rewriter {
    /// The current source goes on at incoming number `seq` with the next outgoing one.
    fn continue_at(&mut self, seq: u64) {
        self.start_seq = seq;
        self.newest_in = seq;
        self.skipped.clear();
        self.behind = None;
        let next_seq = self.last_seq.map_or(FIRST_SEQ, |s| s + 1);
        self.seq_offset = next_seq.wrapping_sub(seq);
    }

    /// A jump beyond [`MAX_JUMP`] past the newest packet: go on from the next number.
    fn follow(&mut self, seq: u64) {
        if seq > self.newest_in + MAX_JUMP {
            self.continue_at(seq);
        }
    }
}

/// The bits a VP8 picture id has: 15 or 7.
fn mask(wide: bool) -> u16 {
    if wide { 0x7fff } else { 0x7f }
}

/// `a` comes after `b` in the picture id space (half the space ahead counts as newer).
fn newer(a: u16, b: u16, wide: bool) -> bool {
    let m = mask(wide);
    let d = a.wrapping_sub(b) & m;
    d != 0 && d <= m / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::time::Duration;

    const VIDEO: u32 = 90_000;

    fn pkt(seq: u64, ts: u32, at: Instant, pic: Option<u16>, tl0: Option<u8>) -> InPacket {
        InPacket {
            seq,
            ts,
            at,
            clock_rate: VIDEO,
            vp8: Some(Vp8Ids {
                picture_id: pic.map(|p| (p, true)),
                tl0,
            }),
        }
    }

    fn src(incarnation: u64, layer: u8) -> SourceId {
        SourceId { incarnation, layer }
    }

    #[test]
    fn a_first_source_starts_low_and_keeps_its_spacing() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let first = pkt(70_000, 4_000_000_000, t0, Some(300), Some(9));
        r.switch(src(1, 0), &first);
        let a = r.map(src(1, 0), &first).unwrap();
        assert_eq!(
            (a.seq, a.ts, a.picture_id, a.tl0),
            (1, 4_000_000_000, Some(300), Some(9))
        );
        // Across the timestamp's wrap, and with a gap (a lost packet) kept as a gap.
        let b = r
            .map(
                src(1, 0),
                &pkt(
                    70_002,
                    4_000_000_000u32.wrapping_add(300_000_000),
                    t0,
                    Some(301),
                    Some(9),
                ),
            )
            .unwrap();
        assert_eq!(b.seq, 3);
        assert_eq!(b.ts, 4_000_000_000u32.wrapping_add(300_000_000));
        // The lost one arrives late (a repair): it fills its hole.
        let late = r
            .map(
                src(1, 0),
                &pkt(70_001, 4_000_000_000, t0, Some(300), Some(9)),
            )
            .unwrap();
        assert_eq!(late.seq, 2);
    }

    #[test]
    fn a_switch_continues_every_number() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        r.switch(src(1, 0), &pkt(10, 1000, t0, Some(32_760), Some(250)));
        for i in 0..10 {
            let at = t0 + Duration::from_millis(33 * i);
            r.map(
                src(1, 0),
                &pkt(
                    10 + i,
                    1000 + 2970 * i as u32,
                    at,
                    Some(32_760 + i as u16),
                    Some(250),
                ),
            );
        }
        // Switch to the high layer, whose numbers have nothing to do with the low one's.
        let at = t0 + Duration::from_millis(330);
        let first = pkt(90_000, 7, at, Some(5), Some(3));
        r.switch(src(1, 2), &first);
        let out = r.map(src(1, 2), &first).unwrap();
        assert_eq!(out.seq, 11, "the next sequence number");
        assert_eq!(
            out.ts,
            1000 + 2970 * 9 + 2970,
            "advanced by the 33 ms since the last packet"
        );
        assert_eq!(
            out.picture_id,
            Some(32_760 + 10 - 32_768),
            "picture ids wrap at 15 bits"
        );
        assert_eq!(out.tl0, Some(251));
        // The old layer's packets are dropped now, and so are the new one's from before.
        assert_eq!(r.map(src(1, 0), &pkt(20, 0, at, Some(1), Some(1))), None);
        assert_eq!(
            r.map(src(1, 2), &pkt(89_999, 0, at, Some(4), Some(3))),
            None
        );
    }

    #[test]
    fn packets_dropped_unsent_leave_no_gap_at_the_next_switch() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        r.switch(src(1, 2), &pkt(500, 0, t0, Some(10), Some(1)));
        for i in 0..10 {
            r.map(src(1, 2), &pkt(500 + i, 0, t0, Some(10), Some(1)));
        }
        // Out: 1..=10. Numbers that were not the last ones mapped change nothing.
        r.unsend(4, 6);
        r.hold();
        // 7..=10 waited in the pacer's queue and were dropped.
        r.unsend(7, 10);
        let first = pkt(9_000, 0, t0, Some(3), Some(1));
        r.switch(src(1, 0), &first);
        assert_eq!(r.map(src(1, 0), &first).unwrap().seq, 7);
    }

    /// Random streams, random switches, random loss and reordering: the subscriber always sees
    /// one stream.
    #[test]
    fn property_one_unbroken_stream_whatever_the_sources() {
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let t0 = Instant::now();
            let mut r = Rewriter::default();
            // Per source: next extended seq, ts, picture id, tl0.
            let mut sources: Vec<(u64, u32, u16, u8)> = (0..4)
                .map(|_| {
                    (
                        rng.random_range(0..200_000),
                        rng.random(),
                        rng.random_range(0..0x8000),
                        rng.random(),
                    )
                })
                .collect();
            let mut current = 0usize;
            let s = sources[0];
            let first = pkt(s.0, s.1, t0, Some(s.2), Some(s.3));
            r.switch(src(0, 0), &first);
            let mut last = r.map(src(0, 0), &first);
            assert_eq!(last.map(|l| l.seq), Some(FIRST_SEQ));
            let mut now = t0;
            for step in 0..400 {
                now += Duration::from_millis(rng.random_range(1..40));
                if step % 37 == 36 {
                    current = rng.random_range(0..sources.len());
                    let s = sources[current];
                    r.switch(
                        src(current as u64, 0),
                        &pkt(s.0, s.1, now, Some(s.2), Some(s.3)),
                    );
                    let out = r
                        .map(
                            src(current as u64, 0),
                            &pkt(s.0, s.1, now, Some(s.2), Some(s.3)),
                        )
                        .unwrap();
                    if let Some(l) = last {
                        assert_eq!(out.seq, l.seq + 1, "seed {seed}: seq continues at a switch");
                        let dt = out.ts.wrapping_sub(l.ts);
                        assert!(dt > 0 && dt < 90_000 * 2, "seed {seed}: ts moves on: {dt}");
                        assert_eq!(out.picture_id, Some((l.picture_id.unwrap() + 1) & 0x7fff));
                        assert_eq!(out.tl0, Some(l.tl0.unwrap().wrapping_add(1)));
                    }
                    last = Some(out);
                    continue;
                }
                // Every source keeps producing; only the current one's packets come out.
                for (i, s) in sources.iter_mut().enumerate() {
                    let lost = rng.random_bool(0.05);
                    s.0 += 1 + u64::from(lost);
                    s.1 = s.1.wrapping_add(2970);
                    s.2 = (s.2 + 1) & 0x7fff;
                    if rng.random_bool(0.2) {
                        s.3 = s.3.wrapping_add(1);
                    }
                    let out = r.map(src(i as u64, 0), &pkt(s.0, s.1, now, Some(s.2), Some(s.3)));
                    if i != current {
                        assert!(out.is_none(), "seed {seed}: only the current source");
                        continue;
                    }
                    let out = out.expect("current source");
                    let l = last.expect("a first packet");
                    assert!(
                        out.seq > l.seq && out.seq <= l.seq + 2,
                        "seed {seed} step {step}: gaps stay gaps {out:?} after {l:?}"
                    );
                    assert_eq!(out.ts.wrapping_sub(l.ts), 2970, "seed {seed}: spacing kept");
                    assert_eq!(out.picture_id, Some((l.picture_id.unwrap() + 1) & 0x7fff));
                    last = Some(out);
                }
            }
        }
    }

    fn plain(seq: u64, at: Instant) -> InPacket {
        InPacket {
            seq,
            ts: seq as u32 * 3000,
            at,
            clock_rate: VIDEO,
            vp8: None,
        }
    }

    #[test]
    fn empty_packets_leave_no_gap_and_late_ones_keep_their_place() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let s = src(1, 0);
        r.switch(s, &plain(100, t0));
        assert_eq!(r.map(s, &plain(100, t0)).unwrap().seq, 1);
        assert!(r.skip(s, &plain(101, t0)));
        assert_eq!(r.map(s, &plain(102, t0)).unwrap().seq, 2, "101 left no gap");
        assert!(r.skip(s, &plain(103, t0)));
        assert_eq!(r.map(s, &plain(105, t0)).unwrap().seq, 4, "104 lost: a gap");
        assert_eq!(
            r.map(s, &plain(104, t0)).unwrap().seq,
            3,
            "the repair fills it"
        );
        // A copy of a skipped empty packet is skipped again, and never takes a number.
        assert!(r.skip(s, &plain(103, t0)));
        assert_eq!(r.map(s, &plain(103, t0)), None);
        // One from before the switch is not skipped (and `map` gives it nothing).
        assert!(!r.skip(s, &plain(99, t0)), "from before the switch");
        assert!(
            !r.skip(src(1, 1), &plain(106, t0)),
            "not the current source"
        );
        assert_eq!(r.map(s, &plain(99, t0)), None, "from before the switch");
    }

    #[test]
    fn a_flood_of_empty_packets_is_numbered_around_in_bounded_memory() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let s = src(1, 0);
        r.switch(s, &plain(0, t0));
        let mut last = r.map(s, &plain(0, t0)).unwrap().seq;
        let mut given = std::collections::HashMap::new();
        // Ten empty packets after every packet of media, for a long while; a few of the
        // media packets are lost on the way and come late.
        let late = [19_701u64, 19_899, 19_976];
        for seq in 1..20_000u64 {
            if seq % 11 == 0 {
                if late.contains(&seq) {
                    last += 1;
                    given.insert(seq, last);
                    continue;
                }
                let out = r.map(s, &plain(seq, t0)).unwrap().seq;
                assert_eq!(out, last + 1, "at {seq}");
                last = out;
            } else {
                assert!(r.skip(s, &plain(seq, t0)));
            }
        }
        assert!(r.skipped.len() <= SKIPPED_KEPT, "{}", r.skipped.len());
        // A late packet from before what is remembered: dropped, not misnumbered.
        assert_eq!(r.map(s, &plain(19_701, t0)), None);
        // Those within it take the numbers they left as holes.
        for seq in [19_899, 19_976] {
            assert_eq!(r.map(s, &plain(seq, t0)).unwrap().seq, given[&seq], "{seq}");
        }
    }

    #[test]
    fn a_jump_goes_on_from_the_next_number_and_so_does_a_restart_far_behind() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let s = src(1, 0);
        r.switch(s, &plain(50_000, t0));
        for (i, seq) in (50_000..50_010).enumerate() {
            assert_eq!(r.map(s, &plain(seq, t0)).unwrap().seq, 1 + i as u64);
        }
        // Within MAX_JUMP a gap stays a gap (the subscriber asks, the repair fills it).
        assert_eq!(r.map(s, &plain(50_020, t0)).unwrap().seq, 21);
        // Beyond it the stream goes on from the next number.
        let jump = 50_020 + MAX_JUMP + 1;
        assert_eq!(r.map(s, &plain(jump, t0)).unwrap().seq, 22);
        assert_eq!(r.map(s, &plain(jump + 1, t0)).unwrap().seq, 23);
        assert_eq!(r.map(s, &plain(50_015, t0)), None, "from before the jump");
        // One packet far behind: dropped; the next in its numbering makes it a restart.
        assert_eq!(r.map(s, &plain(7, t0)), None);
        assert_eq!(r.map(s, &plain(8, t0)).unwrap().seq, 24);
        assert_eq!(r.map(s, &plain(9, t0)).unwrap().seq, 25);
        // Late, but not far: kept in its place.
        assert_eq!(r.map(s, &plain(11, t0)).unwrap().seq, 27);
        assert_eq!(r.map(s, &plain(10, t0)).unwrap().seq, 26);
    }

    /// Random loss, reordering of media and empty packets: every packet of media gets the
    /// number it would have had if the empty ones that arrived had never been sent.
    #[test]
    fn property_empty_packets_are_as_if_never_sent() {
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let t0 = Instant::now();
            let s = src(0, 0);
            let base = rng.random_range(0..100_000u64);
            // Per incoming number: empty, and lost.
            let stream: Vec<(bool, bool)> = (0..600)
                .map(|i| {
                    (
                        i > 0 && rng.random_bool(0.4),
                        i > 0 && rng.random_bool(0.05),
                    )
                })
                .collect();
            let mut order: Vec<usize> = (0..stream.len()).collect();
            // Media may swap with the packet before it; an empty one is never late.
            for i in 1..order.len() - 1 {
                if rng.random_bool(0.1) && !stream[order[i]].0 {
                    order.swap(i, i + 1);
                }
            }
            let mut expected = std::collections::HashMap::new();
            let mut next = FIRST_SEQ;
            for (i, &(empty, lost)) in stream.iter().enumerate() {
                if !empty {
                    expected.insert(i, next);
                }
                // A lost empty packet is a hole like any lost one: the server never saw it.
                if !empty || lost {
                    next += 1;
                }
            }
            let mut r = Rewriter::default();
            r.switch(s, &plain(base, t0));
            for &i in &order {
                let (empty, lost) = stream[i];
                let p = plain(base + i as u64, t0);
                if lost {
                    continue;
                }
                if empty {
                    assert!(r.skip(s, &p), "seed {seed}: {i} skipped");
                    // Sometimes a copy of it comes too: skipped again, never numbered.
                    if rng.random_bool(0.1) {
                        assert!(r.skip(s, &p), "seed {seed}: a copy of {i} skipped");
                        assert_eq!(r.map(s, &p), None, "seed {seed}: a copy of {i}");
                    }
                } else {
                    let out = r.map(s, &p).expect("mapped").seq;
                    assert_eq!(out, expected[&i], "seed {seed}: packet {i}");
                }
            }
        }
    }
}
