//! The server's egress budget (`egress_limit_mbps`: the school's uplink), shared between the
//! media workers by need.
//!
//! Each worker owns its rooms and decides their layers alone, so the budget is split without a
//! lock: every worker publishes what its rooms would send if nothing held them back (their
//! *demand*, refreshed at each allocation), and takes its max-min fair share of the limit
//! given everybody's latest demand. Within a worker the rooms share that again by need
//! ([`crate::allocate::share`]), and within a room its subscribers.
//!
//! Plain atomics, read and written twice a second per room: not on the packet path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::allocate::share;

/// The server's egress limit and each worker's latest demand.
#[derive(Debug)]
pub struct EgressBudget {
    /// Bit/s for the whole server.
    limit: u64,
    demands: Vec<AtomicU64>,
}

impl EgressBudget {
    pub fn new(limit: u64, workers: usize) -> EgressBudget {
        EgressBudget {
            limit,
            demands: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Records worker `index`'s demand and returns its share of the limit.
    pub fn share_of(&self, index: usize, demand: u64) -> u64 {
        if let Some(d) = self.demands.get(index) {
            d.store(demand, Relaxed);
        }
        let demands: Vec<u64> = self.demands.iter().map(|d| d.load(Relaxed)).collect();
        share(self.limit, &demands).get(index).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_worker_gets_what_a_quiet_one_leaves() {
        let budget = EgressBudget::new(10_000_000, 2);
        assert_eq!(
            budget.share_of(0, 2_000_000),
            2_000_000,
            "alone, all it asks"
        );
        assert_eq!(budget.share_of(1, 20_000_000), 8_000_000, "the rest");
        assert_eq!(
            budget.share_of(0, 9_000_000),
            5_000_000,
            "both busy: half each"
        );
        assert_eq!(budget.share_of(1, 20_000_000), 5_000_000);
    }
}
