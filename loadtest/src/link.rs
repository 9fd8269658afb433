//! A shaped network link, the bottleneck of one bot's downlink: a token bucket whose rate
//! follows a capacity [`Profile`], a drop-tail queue in front of it and a one-way delay
//! behind it; and the [`LinkLog`] of what went in, came out and was dropped, in 100 ms bins.
//!
//! The model is the one `sfu/tests/common` uses in simulated time: a datagram leaves when the
//! link has carried what is ahead of it (less the bucket's depth, one datagram unless a
//! shaper's burst is asked for), and arrives `delay` later; one that would wait longer than
//! `queue` is dropped (drop-tail). RFC 8867's test cases (section 5.1: "variable available
//! capacity with a single flow") give the defaults: 300 ms of queue, 50 ms one-way delay.
//! Its 30 ms of jitter is not modelled: this kernel has no netem, and the machine's own
//! scheduling adds some.
//!
//! Pure: times are offsets from the link's start that the caller passes in
//! ([`crate::relay`] is the I/O around it).

use std::time::Duration;

use serde::Serialize;

/// Bytes of IPv4 and UDP header each datagram carries on a real link besides its payload.
pub const HEADER_BYTES: u64 = 28;
/// The drop-tail queue of RFC 8867's test cases: 300 ms at the link's capacity.
pub const QUEUE: Duration = Duration::from_millis(300);
/// The one-way propagation delay of RFC 8867, section 5.1.
pub const DELAY: Duration = Duration::from_millis(50);
/// The token bucket's depth: one full-size datagram, so that after the first each datagram
/// waits for the one before, as on a link whose capacity is its serialization rate (RFC 8867's
/// bottleneck). A deeper bucket is a shaper that lets a burst through at once, and a probe
/// sent into it reads the burst as capacity: with three datagrams, str0m's probes measured up
/// to 4.0 Mbit/s on a 2.5 Mbit/s link, and the estimate rose and fell by half in a cycle
/// (docs/benchmarks.md, "Bandwidth adaptation"). `aula-loadtest impair --burst-bytes` sets it.
pub const BURST_BYTES: u64 = 1500;
/// Width of a [`LinkLog`] bin.
pub const BIN: Duration = Duration::from_millis(100);

/// The link's capacity over time: from each step's start until the next one's, bit/s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// `(from, bit/s)`, sorted by `from`; the first starts at 0. `None`: not shaped.
    pub steps: Vec<(Duration, Option<u64>)>,
}

impl Profile {
    /// A link that carries everything at once (only the delay applies): a twin to measure
    /// what the shaped one would have been sent.
    pub fn unlimited() -> Profile {
        Profile {
            steps: vec![(Duration::ZERO, None)],
        }
    }

    /// RFC 8867 section 5.1: 1 Mbit/s, 2.5 Mbit/s at 40 s, 0.6 Mbit/s at 60 s, 1 Mbit/s at 80
    /// s, for 100 s; the times scaled to `duration` (a shorter run keeps the shape).
    pub fn rfc8867(duration: Duration) -> Profile {
        let at = |percent: u32| duration * percent / 100;
        let mbps = |m: f64| Some((m * 1e6) as u64);
        Profile {
            steps: vec![
                (Duration::ZERO, mbps(1.0)),
                (at(40), mbps(2.5)),
                (at(60), mbps(0.6)),
                (at(80), mbps(1.0)),
            ],
        }
    }

    /// Parses `0:1,40:2.5,60:0.6,80:1`: seconds from the start and Mbit/s from then on.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let mut steps = Vec::new();
        for part in text.split(',') {
            let (at, mbps) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?}: use seconds:mbit/s, like 40:2.5"))?;
            let at: f64 = at.trim().parse().map_err(|_| format!("{at:?} seconds"))?;
            let mbps: f64 = mbps
                .trim()
                .parse()
                .map_err(|_| format!("{mbps:?} Mbit/s"))?;
            if !(at >= 0.0 && at.is_finite() && mbps > 0.0 && mbps.is_finite()) {
                return Err(format!("{part:?}: seconds from 0, Mbit/s above 0"));
            }
            steps.push((Duration::from_secs_f64(at), Some((mbps * 1e6) as u64)));
        }
        if steps.first().map(|s| s.0) != Some(Duration::ZERO) {
            return Err("the profile starts at 0 seconds".into());
        }
        if !steps.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err("the profile's times must rise".into());
        }
        Ok(Profile { steps })
    }

    /// The capacity at `at`, bit/s; `None` when not shaped.
    pub fn rate_at(&self, at: Duration) -> Option<u64> {
        self.steps
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .or(self.steps.first())
            .and_then(|s| s.1)
    }

    /// The times the capacity changes (the first step's start left out).
    pub fn changes(&self) -> impl Iterator<Item = Duration> + '_ {
        self.steps.iter().skip(1).map(|s| s.0)
    }
}

/// How the link shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkConfig {
    /// Its capacity over time.
    pub profile: Profile,
    /// Longest a datagram may wait at the bottleneck; later ones are dropped.
    pub queue: Duration,
    /// One-way propagation delay, added after the bottleneck.
    pub delay: Duration,
    /// Token bucket depth, bytes.
    pub burst_bytes: u64,
}

impl LinkConfig {
    /// RFC 8867's queue and delay, with `profile`.
    pub fn new(profile: Profile) -> LinkConfig {
        LinkConfig {
            profile,
            queue: QUEUE,
            delay: DELAY,
            burst_bytes: BURST_BYTES,
        }
    }
}

/// What one 100 ms bin of the log holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bin {
    /// Bytes that arrived at the bottleneck (headers included): what the server sent.
    pub offered: u64,
    /// Bytes that reached the bot in this bin (headers included).
    pub delivered: u64,
    /// Datagrams the full queue dropped.
    pub dropped: u32,
    /// Their bytes.
    pub dropped_bytes: u64,
    /// Datagrams that went through, by their arrival at the bottleneck.
    pub passed: u32,
    /// Their waits in the queue, summed, µs.
    pub wait_us_sum: u64,
    /// The longest of them, µs.
    pub wait_us_max: u64,
}

/// The link's record, bin by bin from its start.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkLog {
    /// Bin `i` covers `[i × BIN, (i + 1) × BIN)`.
    pub bins: Vec<Bin>,
}

impl LinkLog {
    fn bin(&mut self, at: Duration) -> &mut Bin {
        let i = (at.as_micros() / BIN.as_micros()) as usize;
        if self.bins.len() <= i {
            self.bins.resize(i + 1, Bin::default());
        }
        &mut self.bins[i]
    }

    /// Sums the bins of `[from, to)` into one, waits and all.
    pub fn sum(&self, from: Duration, to: Duration) -> Bin {
        let index = |t: Duration| (t.as_micros() / BIN.as_micros()) as usize;
        let (a, b) = (index(from), index(to).min(self.bins.len()));
        let mut sum = Bin::default();
        for bin in self.bins.get(a..b).unwrap_or_default() {
            sum.offered += bin.offered;
            sum.delivered += bin.delivered;
            sum.dropped += bin.dropped;
            sum.dropped_bytes += bin.dropped_bytes;
            sum.passed += bin.passed;
            sum.wait_us_sum += bin.wait_us_sum;
            sum.wait_us_max = sum.wait_us_max.max(bin.wait_us_max);
        }
        sum
    }
}

/// The bottleneck.
#[derive(Debug, Clone)]
pub struct Link {
    config: LinkConfig,
    /// Bits waiting at `last`, the bucket's depth included (so up to it, nothing waits).
    backlog_bits: f64,
    last: Duration,
    /// When the latest datagram accepted leaves the bottleneck: nothing overtakes it.
    last_departure: Duration,
    log: LinkLog,
}

impl Link {
    /// An empty link, at time zero.
    pub fn new(config: LinkConfig) -> Link {
        Link {
            config,
            backlog_bits: 0.0,
            last: Duration::ZERO,
            last_departure: Duration::ZERO,
            log: LinkLog::default(),
        }
    }

    /// A datagram of `len` bytes (payload) arrives at `now`: when it reaches the other end,
    /// or `None` if the queue drops it. `now` never goes back.
    pub fn handle_datagram(&mut self, now: Duration, len: usize) -> Option<Duration> {
        let bytes = len as u64 + HEADER_BYTES;
        self.log.bin(now).offered += bytes;
        let departure = match self.config.profile.rate_at(now) {
            None => now,
            Some(rate) => {
                let rate = rate.max(1) as f64;
                let drained = now.saturating_sub(self.last).as_secs_f64() * rate;
                self.backlog_bits = (self.backlog_bits - drained).max(0.0);
                self.last = self.last.max(now);
                let backlog = self.backlog_bits + (bytes * 8) as f64;
                let burst = (self.config.burst_bytes * 8) as f64;
                let wait = Duration::from_secs_f64((backlog - burst).max(0.0) / rate);
                if wait > self.config.queue {
                    let bin = self.log.bin(now);
                    bin.dropped += 1;
                    bin.dropped_bytes += bytes;
                    return None;
                }
                self.backlog_bits = backlog;
                now + wait
            }
        };
        let departure = departure.max(self.last_departure);
        self.last_departure = departure;
        let wait = departure - now;
        let bin = self.log.bin(now);
        bin.passed += 1;
        bin.wait_us_sum += wait.as_micros() as u64;
        bin.wait_us_max = bin.wait_us_max.max(wait.as_micros() as u64);
        let arrival = departure + self.config.delay;
        self.log.bin(arrival).delivered += bytes;
        Some(arrival)
    }

    /// The record so far.
    pub fn log(&self) -> &LinkLog {
        &self.log
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn link(mbps: f64) -> Link {
        Link::new(LinkConfig::new(Profile {
            steps: vec![(Duration::ZERO, Some((mbps * 1e6) as u64))],
        }))
    }

    #[test]
    fn a_link_carries_its_capacity_and_drops_the_rest() {
        // 2 Mbit/s offered to a 1 Mbit/s link for 10 s: 1172-byte datagrams, one a 4.8 ms.
        let mut l = link(1.0);
        let mut t = Duration::ZERO;
        let mut arrivals = Vec::new();
        while t < Duration::from_secs(10) {
            arrivals.extend(l.handle_datagram(t, 1172));
            t += Duration::from_micros(4800);
        }
        let log = l.log();
        let s = log.sum(Duration::from_secs(2), Duration::from_secs(10));
        let delivered_mbps = s.delivered as f64 * 8.0 / 8.0 / 1e6;
        assert!(
            (0.97..=1.01).contains(&delivered_mbps),
            "{delivered_mbps} Mbit/s"
        );
        assert!(s.dropped > 0 && s.dropped_bytes as f64 > 0.4 * s.offered as f64);
        // A full queue: every datagram that passed waited about the queue's length.
        assert!(s.wait_us_max <= 300_000 && s.wait_us_max > 280_000, "{s:?}");
        assert!(
            arrivals.windows(2).all(|w| w[0] <= w[1]),
            "first in, first out"
        );
    }

    #[test]
    fn below_capacity_only_the_delay_is_added() {
        let mut l = link(1.0);
        for i in 0..100u32 {
            let now = MS * 20 * i;
            assert_eq!(l.handle_datagram(now, 200), Some(now + DELAY));
        }
        assert_eq!(
            l.log().sum(Duration::ZERO, Duration::from_secs(3)).dropped,
            0
        );
    }

    #[test]
    fn a_burst_within_the_bucket_passes_at_once() {
        let mut l = link(1.0);
        let now = Duration::from_secs(1);
        assert_eq!(l.handle_datagram(now, 1200), Some(now + DELAY));
        // The second waits for the bucket: (2 × 1228 - 1500) bytes at 1 Mbit/s.
        let second = l.handle_datagram(now, 1200).expect("queued");
        assert_eq!(second - now - DELAY, Duration::from_micros(7648));
        // A deeper bucket lets three through at once; the fourth waits (4 × 1228 - 4500).
        let mut shaper = Link::new(LinkConfig {
            burst_bytes: 4500,
            ..l.config().clone()
        });
        for _ in 0..3 {
            assert_eq!(shaper.handle_datagram(now, 1200), Some(now + DELAY));
        }
        let fourth = shaper.handle_datagram(now, 1200).expect("queued");
        assert_eq!(fourth - now - DELAY, Duration::from_micros(3296));
    }

    #[test]
    fn the_rate_follows_the_profile() {
        let p = Profile::rfc8867(Duration::from_secs(100));
        let s = Duration::from_secs;
        assert_eq!(p.rate_at(s(0)), Some(1_000_000));
        assert_eq!(p.rate_at(s(39)), Some(1_000_000));
        assert_eq!(p.rate_at(s(40)), Some(2_500_000));
        assert_eq!(p.rate_at(s(61)), Some(600_000));
        assert_eq!(p.rate_at(s(99)), Some(1_000_000));
        assert_eq!(p.changes().collect::<Vec<_>>(), [s(40), s(60), s(80)]);
        let short = Profile::rfc8867(s(20));
        assert_eq!(short.changes().collect::<Vec<_>>(), [s(8), s(12), s(16)]);
        assert_eq!(Profile::parse("0:1,40:2.5,60:0.6,80:1"), Ok(p));
        assert!(Profile::parse("5:1").is_err(), "starts at 0");
        assert!(Profile::parse("0:1,4:2,3:1").is_err(), "rising times");
        assert!(Profile::parse("0:0").is_err());
        assert!(Profile::parse("0-1").is_err());
        assert_eq!(Profile::unlimited().rate_at(s(5)), None);
    }

    #[test]
    fn a_drop_in_capacity_fills_the_queue_then_drops() {
        let profile = Profile::parse("0:2.5,1:0.5").expect("valid");
        let mut l = Link::new(LinkConfig::new(profile));
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(3) {
            l.handle_datagram(t, 1172);
            // 2 Mbit/s offered.
            t += Duration::from_micros(4800);
        }
        let log = l.log();
        assert_eq!(log.sum(Duration::ZERO, Duration::from_secs(1)).dropped, 0);
        let after = log.sum(Duration::from_millis(1500), Duration::from_secs(3));
        assert!(after.dropped > 0);
        let mbps = after.delivered as f64 * 8.0 / 1.5 / 1e6;
        assert!((0.45..=0.52).contains(&mbps), "{mbps} Mbit/s");
    }
}
