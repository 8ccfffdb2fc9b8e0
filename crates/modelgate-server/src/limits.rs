//! Rate limits per account and per key (DESIGN §1: checked after the route is known
//! to be served, before the context window and the balance). In-process state: one
//! instance. An account's limits are its own or `[limits]`; a key's own limits apply
//! on top (a key can only narrow). 0 means unlimited.

use crate::auth::Authed;
use modelgate_core::config::LimitsConfig;
use modelgate_core::error::RateLimitScope;
use modelgate_core::limits::Gcra;
use modelgate_core::GatewayError;
use modelgate_store::LimitsRow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Cells {
    rpm: Gcra,
    tpm: Gcra,
    in_flight: Arc<AtomicU64>,
}

pub struct Limiter {
    defaults: LimitsConfig,
    cells: Mutex<HashMap<String, Cells>>,
}

#[derive(Clone, Copy)]
struct Effective {
    rpm: u64,
    tpm: u64,
    max_concurrent: u64,
}

impl Effective {
    fn unlimited(&self) -> bool {
        self.rpm == 0 && self.tpm == 0 && self.max_concurrent == 0
    }
}

/// One admitted request: holds its concurrency slots, returns unused tpm on settle.
pub struct Admission {
    limiter: Arc<Limiter>,
    grants: Vec<Grant>,
}

struct Grant {
    cell: String,
    rpm: u64,
    tpm: u64,
    tokens: u64,
    in_flight: Option<Arc<AtomicU64>>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        for g in &self.grants {
            if let Some(counter) = &g.in_flight {
                counter.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl Admission {
    /// tpm is charged at admission with the reserved tokens and corrected to the
    /// actual usage here (DESIGN §3).
    pub fn settle(self, actual_tokens: u64) {
        let mut cells = self.limiter.cells.lock().unwrap_or_else(|p| p.into_inner());
        for g in &self.grants {
            if let Some(c) = cells.get_mut(&g.cell) {
                c.tpm.refund(g.tpm, g.tokens.saturating_sub(actual_tokens));
            }
        }
    }
}

impl Limiter {
    pub fn new(defaults: LimitsConfig) -> Arc<Limiter> {
        Arc::new(Limiter {
            defaults,
            cells: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a request of `tokens` (its reserved total), or answers 429 with the
    /// time until the tightest limit would admit it.
    pub fn admit(
        self: &Arc<Self>,
        authed: &Authed,
        tokens: u64,
    ) -> Result<Admission, GatewayError> {
        let a = &authed.account.limits;
        let account = Effective {
            rpm: a.rpm.unwrap_or(self.defaults.rpm),
            tpm: a.tpm.unwrap_or(self.defaults.tpm),
            max_concurrent: a.max_concurrent.unwrap_or(self.defaults.max_concurrent),
        };
        let key = own(&authed.key.limits);
        let mut admission = Admission {
            limiter: Arc::clone(self),
            grants: Vec::new(),
        };
        // The common case, no limits at all, takes no lock and allocates nothing.
        if key.unlimited() && account.unlimited() {
            return Ok(admission);
        }
        let now = Instant::now();
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        // The key first: if the account then refuses, dropping `admission` undoes it.
        for (cell, limits, scope) in [
            (format!("k:{}", authed.key.id), key, RateLimitScope::Key),
            (
                format!("a:{}", authed.account.id),
                account,
                RateLimitScope::Account,
            ),
        ] {
            if limits.unlimited() {
                continue;
            }
            let c = cells.entry(cell.clone()).or_default();
            let refuse = |retry_after: Duration| GatewayError::RateLimited { retry_after, scope };
            if limits.max_concurrent > 0
                && c.in_flight.load(Ordering::Acquire) >= limits.max_concurrent
            {
                undo(&mut cells, &admission);
                return Err(refuse(Duration::from_secs(1)));
            }
            let mut rpm = c.rpm;
            let mut tpm = c.tpm;
            let checked = rpm
                .admit(limits.rpm, 1, now)
                .and_then(|()| tpm.admit(limits.tpm, tokens, now));
            if let Err(wait) = checked {
                undo(&mut cells, &admission);
                return Err(refuse(wait));
            }
            c.rpm = rpm;
            c.tpm = tpm;
            let in_flight = (limits.max_concurrent > 0).then(|| {
                c.in_flight.fetch_add(1, Ordering::AcqRel);
                Arc::clone(&c.in_flight)
            });
            admission.grants.push(Grant {
                cell,
                rpm: limits.rpm,
                tpm: limits.tpm,
                tokens,
                in_flight,
            });
        }
        Ok(admission)
    }
}

fn own(l: &LimitsRow) -> Effective {
    Effective {
        rpm: l.rpm.unwrap_or(0),
        tpm: l.tpm.unwrap_or(0),
        max_concurrent: l.max_concurrent.unwrap_or(0),
    }
}

/// Returns what earlier grants of a refused admission took.
fn undo(cells: &mut HashMap<String, Cells>, admission: &Admission) {
    for g in &admission.grants {
        if let Some(c) = cells.get_mut(&g.cell) {
            c.rpm.refund(g.rpm, 1);
            c.tpm.refund(g.tpm, g.tokens);
        }
    }
}
