//! In-process limit cells: one instance.

use super::Effective;
use modelgate_core::limits::{Gcra, Headroom, RateHeadroom};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Cells {
    rpm: Gcra,
    tpm: Gcra,
    in_flight: u64,
}

#[derive(Default)]
pub struct Local {
    cells: Mutex<HashMap<String, Cells>>,
}

impl Local {
    fn with<R>(&self, cell: &str, f: impl FnOnce(&mut Cells) -> R) -> R {
        let mut map = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get_mut(cell) {
            return f(c);
        }
        f(map.entry(cell.to_owned()).or_default())
    }

    /// Takes a concurrency slot (when limited), one request and `tokens`, or nothing.
    pub fn admit(&self, cell: &str, limits: Effective, tokens: u64) -> Result<(), Duration> {
        let now = Instant::now();
        self.with(cell, |c| {
            if limits.max_concurrent > 0 && c.in_flight >= limits.max_concurrent {
                return Err(Duration::from_secs(1));
            }
            let (mut rpm, mut tpm) = (c.rpm, c.tpm);
            rpm.admit(limits.rpm, 1, now)?;
            tpm.admit(limits.tpm, tokens, now)?;
            (c.rpm, c.tpm) = (rpm, tpm);
            if limits.max_concurrent > 0 {
                c.in_flight += 1;
            }
            Ok(())
        })
    }

    pub fn refund(&self, cell: &str, limits: Effective, requests: u64, tokens: u64) {
        self.with(cell, |c| {
            c.rpm.refund(limits.rpm, requests);
            c.tpm.refund(limits.tpm, tokens);
        });
    }

    /// tpm corrected to actual usage (`delta` = used - admitted).
    pub fn correct_tokens(&self, cell: &str, limits: Effective, delta: i64) {
        let now = Instant::now();
        self.with(cell, |c| c.tpm.correct(limits.tpm, delta, now));
    }

    /// Where the cell stands now (nothing is taken).
    pub fn headroom(&self, cell: &str, limits: Effective) -> RateHeadroom {
        let now = Instant::now();
        let map = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Cells::default();
        let c = map.get(cell).unwrap_or(&fresh);
        RateHeadroom {
            requests: Headroom::of(&c.rpm, limits.rpm, now),
            tokens: Headroom::of(&c.tpm, limits.tpm, now),
        }
    }

    pub fn release_slot(&self, cell: &str) {
        self.with(cell, |c| c.in_flight = c.in_flight.saturating_sub(1));
    }
}
