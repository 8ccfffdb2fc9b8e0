//! The memory that stored answers and keyed stream logs may take in process: kept for
//! 24 h and cheap for a client to create, they would otherwise grow without bound.
//! Over the budget, the oldest finished records are evicted first (their key then runs
//! again); a stream still running is never evicted.

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Budget {
    max: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget {
            max: max.max(1),
            used: AtomicUsize::new(0),
        }
    }

    pub fn add(&self, bytes: usize) {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        metrics::gauge!("modelgate_idempotency_bytes").set(used as f64);
    }

    pub fn sub(&self, bytes: usize) {
        let before = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            })
            .unwrap_or(0);
        metrics::gauge!("modelgate_idempotency_bytes").set(before.saturating_sub(bytes) as f64);
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn over(&self) -> bool {
        self.used() > self.max
    }

    /// Evictions stop here, a tenth below the budget, so they run rarely.
    pub fn target(&self) -> usize {
        self.max - self.max / 10
    }
}
