//! Shared simulator state: recorded requests, per-id fault counters, id sequence.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::directives::Directives;
use crate::{RecordedRequest, SimulatorConfig};

/// Bounds memory when a benchmark sends millions of requests; tests never get near.
const MAX_RECORDED: usize = 100_000;

pub(crate) struct Shared {
    pub(crate) config: SimulatorConfig,
    record: bool,
    requests: Mutex<VecDeque<(Option<String>, RecordedRequest)>>,
    fail_counts: Mutex<HashMap<String, u64>>,
    seq: AtomicU64,
}

/// A poisoned lock only means another handler panicked mid-update of plain data;
/// the data is still usable, and a test server must keep answering.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new(config: SimulatorConfig, record: bool) -> Self {
        Shared {
            config,
            record,
            requests: Mutex::new(VecDeque::new()),
            fail_counts: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, id: Option<String>, req: RecordedRequest) {
        if !self.record {
            return;
        }
        let mut requests = lock(&self.requests);
        if requests.len() >= MAX_RECORDED {
            requests.pop_front();
        }
        requests.push_back((id, req));
    }

    pub(crate) fn requests(&self, id: Option<&str>) -> Vec<RecordedRequest> {
        lock(&self.requests)
            .iter()
            .filter(|(rid, _)| id.is_none() || rid.as_deref() == id)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Applies `fail_times`: counts this request under its id (or, lacking one,
    /// its directive text) and drops the faults once the count exceeds n.
    pub(crate) fn gate(&self, d: Directives) -> Directives {
        let Some(n) = d.fail_times else {
            return d;
        };
        let key = d.id.clone().unwrap_or_else(|| d.source.clone());
        let seen = {
            let mut counts = lock(&self.fail_counts);
            let count = counts.entry(key).or_insert(0);
            *count += 1;
            *count
        };
        if seen <= n {
            d
        } else {
            d.without_faults()
        }
    }

    /// A process-unique sequence number for response ids.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }
}
