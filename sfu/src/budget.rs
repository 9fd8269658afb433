//! The server's egress budget (`egress_limit_mbps`: the school's uplink), shared between the
//! media workers by need.
//!
//! Each worker owns its rooms and decides their layers alone, so the budget is split without a
//! lock: every worker publishes what its rooms would send if nothing held them back (their
//! *demand*, refreshed at each allocation), and takes its max-min fair share of the limit
//! given everybody's latest demand. Within a worker the rooms share that again by need
//! ([`crate::allocate::share`]), and within a room its subscribers.
//!
//! The limit is the lower of the configured one and a *pressure* limit that signaling sets
//! while the server's CPU is tight (docs/architecture.md, "Admission"): the allocator then
//! lowers the least important videos before anybody new has to wait.
//!
//! Plain atomics, read and written twice a second per room: not on the packet path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::allocate::share;

/// No limit, in the atomics.
const NONE: u64 = u64::MAX;

/// The server's egress limit and each worker's latest demand.
#[derive(Debug)]
pub struct EgressBudget {
    /// Bit/s for the whole server (`egress_limit_mbps`), or [`NONE`].
    configured: u64,
    /// Bit/s while the CPU is tight, or [`NONE`].
    pressure: AtomicU64,
    demands: Vec<AtomicU64>,
}

impl EgressBudget {
    pub fn new(limit: Option<u64>, workers: usize) -> EgressBudget {
        EgressBudget {
            configured: limit.unwrap_or(NONE),
            pressure: AtomicU64::new(NONE),
            demands: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The limit in force: the configured one or the pressure one, whichever is lower.
    pub fn limit(&self) -> Option<u64> {
        let limit = self.configured.min(self.pressure.load(Relaxed));
        (limit != NONE).then_some(limit)
    }

    /// The configured limit alone.
    pub fn configured(&self) -> Option<u64> {
        (self.configured != NONE).then_some(self.configured)
    }

    /// Sets (or with `None` lifts) the limit for a server whose CPU is tight.
    pub fn set_pressure(&self, limit: Option<u64>) {
        self.pressure.store(limit.unwrap_or(NONE), Relaxed);
    }

    /// Records worker `index`'s demand: what its rooms would send.
    pub fn set_demand(&self, index: usize, demand: u64) {
        if let Some(d) = self.demands.get(index) {
            d.store(demand, Relaxed);
        }
    }

    /// Records worker `index`'s demand and returns its share of the limit (`None`: no limit).
    pub fn share_of(&self, index: usize, demand: u64) -> Option<u64> {
        self.set_demand(index, demand);
        let limit = self.limit()?;
        let demands: Vec<u64> = self.demands.iter().map(|d| d.load(Relaxed)).collect();
        Some(share(limit, &demands).get(index).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_worker_gets_what_a_quiet_one_leaves() {
        let budget = EgressBudget::new(Some(10_000_000), 2);
        assert_eq!(
            budget.share_of(0, 2_000_000),
            Some(2_000_000),
            "alone, all it asks"
        );
        assert_eq!(budget.share_of(1, 20_000_000), Some(8_000_000), "the rest");
        assert_eq!(
            budget.share_of(0, 9_000_000),
            Some(5_000_000),
            "both busy: half each"
        );
        assert_eq!(budget.share_of(1, 20_000_000), Some(5_000_000));
    }

    #[test]
    fn pressure_lowers_the_limit_and_lifting_it_restores_the_configured_one() {
        let budget = EgressBudget::new(None, 1);
        assert_eq!(budget.share_of(0, 5_000_000), None, "no limit");
        budget.set_pressure(Some(3_000_000));
        assert_eq!(budget.share_of(0, 5_000_000), Some(3_000_000));
        budget.set_pressure(None);
        assert_eq!(budget.limit(), None);
        let school = EgressBudget::new(Some(10_000_000), 1);
        school.set_pressure(Some(20_000_000));
        assert_eq!(school.limit(), Some(10_000_000), "the lower one");
        school.set_pressure(Some(4_000_000));
        assert_eq!(school.limit(), Some(4_000_000));
        assert_eq!(school.configured(), Some(10_000_000));
    }
}
