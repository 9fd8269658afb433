//! Media gaps: how long a subscriber went without frames from a publisher, and whose churn a
//! gap overlapped.
//!
//! A bot keeps one [`GapLog`] per stream it receives (its own participant id, the remote's,
//! audio or video) and notes in it every silence of at least [`NOTE_GAP`] between two frames.
//! After a run, the `churn` scenario puts each log on the run's timeline and asks
//! [`stayer_gaps`] which parts of its silences fell while neither side was churning, and
//! whether someone else's churn was going on then.
//!
//! Pure: times are offsets the caller gives; nothing here reads a clock.

use std::time::Duration;

/// Silences shorter than this are not noted. Audio frames come every 20 ms and video frames
/// every 33 ms, so 100 ms is five audio frames missing in a row, beyond any jitter on one
/// machine, and a tenth of the 1 s the churn verdict allows.
pub const NOTE_GAP: Duration = Duration::from_millis(100);

/// A log keeps at most this many gaps, the longest: a five-minute run with trouble every few
/// seconds fits, and a broken stream cannot grow a bot without bound.
pub const MAX_GAPS: usize = 64;

/// A stretch of time, `from` to `to`, on whatever timeline the caller uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start.
    pub from: Duration,
    /// End; never before `from`.
    pub to: Duration,
}

impl Span {
    /// The span from `from` to `to`, empty if `to` is before `from`.
    pub fn new(from: Duration, to: Duration) -> Span {
        Span {
            from,
            to: to.max(from),
        }
    }

    /// How long it lasts.
    pub fn len(&self) -> Duration {
        self.to - self.from
    }

    /// Whether it lasts no time at all.
    pub fn is_empty(&self) -> bool {
        self.len().is_zero()
    }

    /// The part of both, possibly empty.
    pub fn intersect(&self, other: &Span) -> Span {
        Span::new(self.from.max(other.from), self.to.min(other.to))
    }

    /// Whether the two share any time.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.from < other.to && other.from < self.to
    }

    /// The same span `by` later.
    pub fn shift(&self, by: Duration) -> Span {
        Span::new(self.from + by, self.to + by)
    }
}

/// Which track of a remote participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Its microphone.
    Audio,
    /// Its camera.
    Video,
}

/// The frames one bot received on one stream of one remote participant, as gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct GapLog {
    /// This bot's participant id when the frames arrived (a rejoin starts new logs).
    pub me: String,
    /// The publishing participant's id.
    pub remote: String,
    /// Audio or video.
    pub kind: StreamKind,
    /// Frames received.
    pub frames: u64,
    /// The first frame arrived.
    pub first: Option<Duration>,
    /// The latest frame arrived.
    pub last: Option<Duration>,
    /// Silences of at least [`NOTE_GAP`] between two frames, in time order; the longest
    /// [`MAX_GAPS`] of them.
    pub gaps: Vec<Span>,
    /// The bot's own `view` left this (video) stream out at some time: its silences are the
    /// page's choice, not the server's.
    pub hidden_by_view: bool,
}

impl GapLog {
    /// An empty log.
    pub fn new(me: &str, remote: &str, kind: StreamKind) -> GapLog {
        GapLog {
            me: me.to_owned(),
            remote: remote.to_owned(),
            kind,
            frames: 0,
            first: None,
            last: None,
            gaps: Vec::new(),
            hidden_by_view: false,
        }
    }

    /// A frame arrived at `at`. Frames may be recorded out of order (a bot times them by
    /// their first packet's arrival, and its receive buffer hands frames over late behind a
    /// lost packet): one that arrived within a noted gap splits it, keeping what is still
    /// [`NOTE_GAP`] or more on either side.
    pub fn record(&mut self, at: Duration) {
        self.frames += 1;
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        let Some(last) = self.last else {
            self.last = Some(at);
            return;
        };
        if at.saturating_sub(last) >= NOTE_GAP {
            self.note(Span::new(last, at));
        } else if at < last
            && let Some(i) = self.gaps.iter().position(|g| g.from < at && at < g.to)
        {
            let gap = self.gaps.remove(i);
            for piece in [Span::new(gap.from, at), Span::new(at, gap.to)] {
                if piece.len() >= NOTE_GAP {
                    self.note(piece);
                }
            }
        }
        self.last = Some(last.max(at));
    }

    /// Keeps `gap`, dropping the shortest kept one if the log is full and `gap` is longer.
    fn note(&mut self, gap: Span) {
        if self.gaps.len() == MAX_GAPS {
            let (i, shortest) = self
                .gaps
                .iter()
                .enumerate()
                .min_by_key(|(_, g)| g.len())
                .expect("a full log has gaps");
            if shortest.len() >= gap.len() {
                return;
            }
            self.gaps.remove(i);
        }
        let at = self.gaps.partition_point(|g| g.from <= gap.from);
        self.gaps.insert(at, gap);
    }

    /// Every silence on the stream while the pair was `present`, on the run's timeline (the
    /// log's times plus `shift`): from `present.from` to the first frame, the noted gaps, and
    /// from the last frame to `present.to`. A stream that never delivered is one silence.
    pub fn holes(&self, shift: Duration, present: Span) -> Vec<Span> {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return vec![present];
        };
        let mut holes = vec![Span::new(present.from, first + shift)];
        holes.extend(self.gaps.iter().map(|g| g.shift(shift)));
        holes.push(Span::new(last + shift, present.to));
        holes.retain(|h| !h.is_empty());
        holes
    }
}

/// Why a stayer gap happened, as far as timing tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// It overlapped a time when other work held the machine and neither the server nor the
    /// bots got to run: the machine's gap, whatever else went on.
    Starved,
    /// It overlapped the churn window at this index of `others`: someone else left or came
    /// back meanwhile.
    OthersChurn(usize),
    /// Nobody in the room was churning then.
    Unexplained,
}

/// A silence while neither side of the pair was churning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StayerGap {
    /// When, on the run's timeline.
    pub span: Span,
    /// Why, as far as timing tells.
    pub cause: Cause,
}

/// The parts of `holes` that count as stayer gaps, longest first: each hole is cut to
/// `measured`, the time the pair's own churn windows (`own`: the subscriber's and the
/// publisher's) cover is taken out of it, and each remaining piece is put down to the
/// machine if it overlaps a `starved` span, else blamed on the first window of `others` it
/// overlaps.
pub fn stayer_gaps(
    holes: &[Span],
    measured: Span,
    own: &[Span],
    others: &[Span],
    starved: &[Span],
) -> Vec<StayerGap> {
    let mut gaps: Vec<StayerGap> = holes
        .iter()
        .map(|h| h.intersect(&measured))
        .flat_map(|h| subtract(h, own))
        .map(|span| StayerGap {
            span,
            cause: if starved.iter().any(|s| s.overlaps(&span)) {
                Cause::Starved
            } else {
                others
                    .iter()
                    .position(|w| w.overlaps(&span))
                    .map_or(Cause::Unexplained, Cause::OthersChurn)
            },
        })
        .collect();
    gaps.sort_by_key(|g| std::cmp::Reverse(g.span.len()));
    gaps
}

/// The parts of `span` within any of `by`, in time order, without empty pieces.
pub fn covered(span: Span, by: &[Span]) -> Vec<Span> {
    subtract(span, &subtract(span, by))
}

/// What is left of `span` outside all of `cut`, in time order, without empty pieces.
fn subtract(span: Span, cut: &[Span]) -> Vec<Span> {
    let mut cut: Vec<Span> = cut.iter().filter(|c| c.overlaps(&span)).copied().collect();
    cut.sort_by_key(|c| c.from);
    let mut pieces = Vec::new();
    let mut from = span.from;
    for c in cut {
        if c.from > from {
            pieces.push(Span::new(from, c.from));
        }
        from = from.max(c.to);
    }
    if from < span.to {
        pieces.push(Span::new(from, span.to));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(from: f64, to: f64) -> Span {
        Span::new(Duration::from_secs_f64(from), Duration::from_secs_f64(to))
    }

    fn at(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    /// A log of frames every 20 ms from `from` to `to` ms, none strictly inside the
    /// `(a, b)` silences.
    fn log(from: u64, to: u64, silences: &[(u64, u64)]) -> GapLog {
        let mut log = GapLog::new("p1", "p2", StreamKind::Audio);
        for t in (from..=to).step_by(20) {
            if !silences.iter().any(|&(a, b)| t > a && t < b) {
                log.record(Duration::from_millis(t));
            }
        }
        log
    }

    #[test]
    fn silences_from_a_tenth_of_a_second_are_noted() {
        let l = log(1000, 3000, &[(1500, 1580), (2000, 2500)]);
        assert_eq!(l.gaps, [s(2.0, 2.5)], "80 ms is jitter, 500 ms a gap");
        assert_eq!((l.first, l.last), (Some(at(1.0)), Some(at(3.0))));
        assert_eq!(l.frames, 101 - 3 - 24);
    }

    #[test]
    fn a_full_log_keeps_the_longest_gaps_in_time_order() {
        let mut l = GapLog::new("p1", "p2", StreamKind::Video);
        let mut t = 0;
        for i in 0..MAX_GAPS as u64 + 10 {
            // 73 gaps of 100 ms + i ms, all noted; the nine shortest are forgotten.
            l.record(Duration::from_millis(t));
            t += 100 + i;
        }
        assert_eq!(l.gaps.len(), MAX_GAPS);
        assert!(l.gaps.windows(2).all(|w| w[0].from < w[1].from));
        let shortest = l.gaps.iter().map(Span::len).min();
        assert_eq!(shortest, Some(Duration::from_millis(109)));
    }

    #[test]
    fn frames_out_of_order_do_not_move_the_last_back() {
        let mut l = GapLog::new("p1", "p2", StreamKind::Audio);
        l.record(at(1.0));
        l.record(at(0.5));
        assert_eq!(l.last, Some(at(1.0)));
        assert!(l.gaps.is_empty());
    }

    #[test]
    fn frames_handed_over_late_fill_the_silence_they_arrived_in() {
        // Frames every 20 ms by arrival; the one at 500 ms lost and retransmitted, arriving at
        // 800 ms; the receiver handed over the frames from 520 to 780 ms only after it, at once.
        let mut l = GapLog::new("p1", "p2", StreamKind::Audio);
        let order = (0..=480)
            .step_by(20)
            .chain([800])
            .chain((520..=780).step_by(20))
            .chain((820..=1000).step_by(20));
        for t in order {
            l.record(Duration::from_millis(t));
        }
        assert!(l.gaps.is_empty(), "{:?}", l.gaps);
        assert_eq!((l.first, l.last), (Some(at(0.0)), Some(at(1.0))));
        // A late frame inside a real silence splits it; pieces under NOTE_GAP go.
        let mut l = log(0, 3000, &[(1000, 2000)]);
        l.record(at(1.5));
        l.record(at(1.95));
        assert_eq!(l.gaps, [s(1.0, 1.5), s(1.5, 1.95)]);
        l.record(at(0.5));
        assert_eq!(
            l.gaps.len(),
            2,
            "a frame between two others changes nothing"
        );
    }

    #[test]
    fn covered_is_the_part_within_the_spans() {
        let cover = covered(s(10.0, 20.0), &[s(5.0, 11.0), s(15.0, 16.0), s(19.0, 30.0)]);
        assert_eq!(cover, [s(10.0, 11.0), s(15.0, 16.0), s(19.0, 20.0)]);
        assert!(covered(s(10.0, 20.0), &[s(0.0, 5.0)]).is_empty());
    }

    #[test]
    fn holes_cover_the_start_the_gaps_and_the_tail() {
        let l = log(2000, 5000, &[(3000, 4000)]);
        // The bot started 10 s into the run; the pair was present from 11 s to 20 s.
        let holes = l.holes(at(10.0), s(11.0, 20.0));
        assert_eq!(holes, [s(11.0, 12.0), s(13.0, 14.0), s(15.0, 20.0)]);
        let nothing = GapLog::new("p1", "p3", StreamKind::Video);
        assert_eq!(nothing.holes(at(10.0), s(11.0, 20.0)), [s(11.0, 20.0)]);
    }

    #[test]
    fn own_churn_is_cut_out_and_what_remains_is_measured() {
        // Silent from 10 s to 16 s; the publisher itself was away from 9 s to 14 s.
        let gaps = stayer_gaps(&[s(10.0, 16.0)], s(0.0, 60.0), &[s(9.0, 14.0)], &[], &[]);
        assert_eq!(
            gaps,
            [StayerGap {
                span: s(14.0, 16.0),
                cause: Cause::Unexplained
            }]
        );
        // Entirely within its own churn: nothing counts.
        assert!(stayer_gaps(&[s(10.0, 12.0)], s(0.0, 60.0), &[s(9.0, 14.0)], &[], &[]).is_empty());
    }

    #[test]
    fn a_gap_during_someone_elses_churn_is_blamed_on_it() {
        // The teacher left at 20 s and was back, settled, at 24 s; a stayer pair went silent
        // from 21 s to the end: the broken renegotiation.
        let others = [s(5.0, 7.0), s(20.0, 24.0)];
        let gaps = stayer_gaps(&[s(21.0, 60.0)], s(3.0, 60.0), &[], &others, &[]);
        assert_eq!(gaps[0].cause, Cause::OthersChurn(1));
        assert_eq!(gaps[0].span.len(), at(39.0));
    }

    #[test]
    fn a_hole_split_by_own_churn_keeps_both_pieces_longest_first() {
        let own = [s(12.0, 13.0), s(11.5, 12.5)];
        let others = [s(15.5, 16.0)];
        let gaps = stayer_gaps(&[s(10.0, 17.0)], s(0.0, 60.0), &own, &others, &[]);
        let spans: Vec<Span> = gaps.iter().map(|g| g.span).collect();
        assert_eq!(spans, [s(13.0, 17.0), s(10.0, 11.5)]);
        assert_eq!(gaps[0].cause, Cause::OthersChurn(0));
        assert_eq!(gaps[1].cause, Cause::Unexplained);
    }

    #[test]
    fn a_gap_while_the_machine_was_taken_is_the_machines() {
        // Someone churned, but for two seconds neither the loadtest nor the server ran.
        let churn = [s(19.0, 25.0), s(29.0, 35.0)];
        let starved = [s(20.0, 22.0)];
        let gaps = stayer_gaps(&[s(20.5, 22.5)], s(3.0, 60.0), &[], &churn, &starved);
        assert_eq!(gaps[0].cause, Cause::Starved);
        let gaps = stayer_gaps(&[s(30.0, 32.5)], s(3.0, 60.0), &[], &churn, &starved);
        assert_eq!(gaps[0].cause, Cause::OthersChurn(1));
    }

    #[test]
    fn only_the_measured_part_of_the_run_counts() {
        // Start-up before the warm-up ended is not a gap.
        let gaps = stayer_gaps(&[s(0.5, 2.0), s(30.0, 31.5)], s(5.0, 31.0), &[], &[], &[]);
        let spans: Vec<Span> = gaps.iter().map(|g| g.span).collect();
        assert_eq!(spans, [s(30.0, 31.0)]);
    }
}
