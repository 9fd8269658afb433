//! What the server can take now, from what it measures: its own CPU, the people present
//! against the configured ceiling, its egress against the school's uplink, and the rate at
//! which join work (ICE and DTLS handshakes, first keyframes) may start (a token bucket,
//! chat's `RateLimit`). Pure functions of the measurements, tested with made-up ones; `mod.rs`
//! measures and acts.

/// Above this share of all cores the server lets nobody new in: the media of the lessons
/// already running comes first. Lessons at 85 % still have the headroom a keyframe burst or
/// a burst of joins needs.
pub(crate) const ADMIT_BELOW_CPU: f64 = 0.85;
/// Above this share the allocator is asked to lower the least important videos (fewer
/// packets to forward) before anybody has to wait.
pub(crate) const DEGRADE_ABOVE_CPU: f64 = 0.70;
/// Below this share a degraded server gives the videos back, step by step.
pub(crate) const RECOVER_BELOW_CPU: f64 = 0.55;

/// What the server measured over the last second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Load {
    /// People admitted and present.
    pub present: usize,
    /// Process CPU as a share of all cores (0..1).
    pub cpu: f64,
    /// What the allocator gives out against the server's egress budget, when there is one
    /// (0..1), and whether videos are already paused for want of it (at least one per
    /// subscriber on average).
    pub egress_used: Option<f64>,
    pub videos_paused: bool,
}

/// Why nobody new comes in right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// `max_participants` are present.
    Ceiling,
    /// The server's CPU is above [`ADMIT_BELOW_CPU`].
    Cpu,
    /// The egress budget is used up and videos are already paused for it.
    Egress,
    /// Join work started at the configured rate already.
    Rate,
}

impl Hold {
    pub(crate) const ALL: [Hold; 4] = [Hold::Ceiling, Hold::Cpu, Hold::Egress, Hold::Rate];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Hold::Ceiling => "ceiling",
            Hold::Cpu => "cpu",
            Hold::Egress => "egress",
            Hold::Rate => "rate",
        }
    }
}

/// Whether one more may come in under `load`, with `max_participants` as the ceiling.
pub(crate) fn hold(load: &Load, max_participants: usize) -> Option<Hold> {
    if load.present >= max_participants {
        return Some(Hold::Ceiling);
    }
    if load.cpu >= ADMIT_BELOW_CPU {
        return Some(Hold::Cpu);
    }
    if load.egress_used.is_some_and(|u| u >= 0.95) && load.videos_paused {
        return Some(Hold::Egress);
    }
    None
}

/// The egress budget the allocator gets while the CPU is tight, given the one it has now
/// (`None`: no pressure) and what the server sends (bit/s): 15 % below what it sends while
/// the CPU is above [`DEGRADE_ABOVE_CPU`], 15 % more each second below
/// [`RECOVER_BELOW_CPU`], and none once that is twice what it sends (nothing held back).
/// Never below `floor` (audio and the hosts' lowest layers need about that much).
pub(crate) fn pressure(cpu: f64, now: Option<u64>, sending: u64, floor: u64) -> Option<u64> {
    if cpu >= DEGRADE_ABOVE_CPU {
        let from = now.map_or(sending, |n| n.min(sending.max(floor)));
        return Some((from * 85 / 100).max(floor));
    }
    let current = now?;
    if cpu >= RECOVER_BELOW_CPU {
        return Some(current);
    }
    let raised = current + current * 15 / 100;
    (raised < sending.saturating_mul(2).max(floor)).then_some(raised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_then_the_cpu_then_the_egress_hold_joins() {
        let calm = Load {
            present: 10,
            cpu: 0.3,
            egress_used: Some(0.5),
            videos_paused: false,
        };
        assert_eq!(hold(&calm, 100), None);
        assert_eq!(hold(&calm, 10), Some(Hold::Ceiling));
        let busy = Load { cpu: 0.9, ..calm };
        assert_eq!(hold(&busy, 100), Some(Hold::Cpu));
        // The budget used up is not enough: first the allocator lowers and pauses videos.
        let full = Load {
            egress_used: Some(0.97),
            ..calm
        };
        assert_eq!(hold(&full, 100), None);
        let paused = Load {
            videos_paused: true,
            ..full
        };
        assert_eq!(hold(&paused, 100), Some(Hold::Egress));
        let unlimited = Load {
            egress_used: None,
            videos_paused: true,
            ..calm
        };
        assert_eq!(hold(&unlimited, 100), None);
    }

    #[test]
    fn a_busy_cpu_lowers_the_budget_step_by_step_and_a_calm_one_gives_it_back() {
        let floor = 1_000_000;
        let mut budget = None;
        let mut sending = 20_000_000;
        // Busy for three seconds: 15 % less each second, from what is sent.
        for _ in 0..3 {
            budget = pressure(0.8, budget, sending, floor);
            sending = budget.unwrap();
        }
        assert_eq!(budget, Some(12_282_500));
        // In between: held.
        assert_eq!(pressure(0.6, budget, sending, floor), budget);
        // Calm: 15 % more each second until it holds nothing back.
        let mut steps = 0;
        while budget.is_some() {
            budget = pressure(0.3, budget, sending, floor);
            steps += 1;
        }
        assert_eq!(
            steps, 5,
            "12.3 → 24.6 Mbit/s (twice what is sent) in 15 % steps"
        );
        // Never below the floor.
        assert_eq!(
            pressure(0.95, Some(1_100_000), 1_100_000, floor),
            Some(floor)
        );
        assert_eq!(pressure(0.3, None, sending, floor), None);
    }
}
