//! Rate limits per account and per key (DESIGN §1: checked after the route is known
//! to be served, before the context window and the balance). An account's limits are
//! its own or `[limits]`; a key's own limits apply on top (a key can only narrow).
//! 0 means unlimited. Cells live in process, or in Redis when `[storage] redis_url`
//! is set, so that every instance shares them.

mod local;
mod redis;

pub use self::redis::RedisCells;

use crate::auth::Authed;
use crate::tasks::Tasks;
use local::Local;
use modelgate_core::config::LimitsConfig;
use modelgate_core::error::RateLimitScope;
use modelgate_core::limits::RateHeadroom;
use modelgate_core::GatewayError;
use modelgate_store::LimitsRow;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub struct Effective {
    pub rpm: u64,
    pub tpm: u64,
    pub max_concurrent: u64,
}

impl Effective {
    fn unlimited(&self) -> bool {
        self.rpm == 0 && self.tpm == 0 && self.max_concurrent == 0
    }

    fn own(l: &LimitsRow) -> Effective {
        Effective {
            rpm: l.rpm.unwrap_or(0),
            tpm: l.tpm.unwrap_or(0),
            max_concurrent: l.max_concurrent.unwrap_or(0),
        }
    }
}

enum Cells {
    Local(Local),
    Redis(RedisCells),
}

pub struct Limiter {
    defaults: LimitsConfig,
    cells: Cells,
    tasks: Tasks,
}

/// One admitted request: holds its concurrency slots, returns unused tpm on settle.
pub struct Admission {
    limiter: Arc<Limiter>,
    grants: Vec<Grant>,
}

struct Grant {
    cell: String,
    limits: Effective,
    tokens: u64,
}

impl Limiter {
    pub fn new(defaults: LimitsConfig, redis: Option<RedisCells>, tasks: Tasks) -> Arc<Limiter> {
        let cells = match redis {
            Some(r) => Cells::Redis(r),
            None => Cells::Local(Local::default()),
        };
        Arc::new(Limiter {
            defaults,
            cells,
            tasks,
        })
    }

    /// The account's limits: its own, else `[limits]`.
    fn account_limits(&self, authed: &Authed) -> Effective {
        let a = &authed.account.limits;
        Effective {
            rpm: a.rpm.unwrap_or(self.defaults.rpm),
            tpm: a.tpm.unwrap_or(self.defaults.tpm),
            max_concurrent: a.max_concurrent.unwrap_or(self.defaults.max_concurrent),
        }
    }

    /// Admits a request of `tokens` (its reserved total), or answers 429 with the
    /// time until the tightest limit would admit it.
    pub async fn admit(
        self: &Arc<Self>,
        authed: &Authed,
        tokens: u64,
    ) -> Result<Admission, GatewayError> {
        let account = self.account_limits(authed);
        let key = Effective::own(&authed.key.limits);
        let mut admission = Admission {
            limiter: Arc::clone(self),
            grants: Vec::new(),
        };
        // The common case, no limits at all, takes no lock and allocates nothing.
        if key.unlimited() && account.unlimited() {
            return Ok(admission);
        }
        // The key first: if the account then refuses, the key's grant is undone.
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
            let admitted = match &self.cells {
                Cells::Local(l) => l.admit(&cell, limits, tokens),
                Cells::Redis(r) => r.admit(&cell, limits, tokens).await,
            };
            if let Err(retry_after) = admitted {
                admission.undo().await;
                return Err(GatewayError::RateLimited { retry_after, scope });
            }
            admission.grants.push(Grant {
                cell,
                limits,
                tokens,
            });
        }
        Ok(admission)
    }

    /// Where the key's and account's rpm and tpm stand, the tighter of each, for
    /// OpenAI's `x-ratelimit-*` headers; `None` when neither has a rate limit.
    pub async fn headroom(&self, authed: &Authed) -> Option<RateHeadroom> {
        let account = self.account_limits(authed);
        let key = Effective::own(&authed.key.limits);
        if key.rpm == 0 && key.tpm == 0 && account.rpm == 0 && account.tpm == 0 {
            return None;
        }
        let cells: Vec<(String, Effective)> = [
            (format!("k:{}", authed.key.id), key),
            (format!("a:{}", authed.account.id), account),
        ]
        .into_iter()
        .filter(|(_, l)| l.rpm > 0 || l.tpm > 0)
        .collect();
        Some(match &self.cells {
            Cells::Local(l) => cells
                .iter()
                .map(|(cell, limits)| l.headroom(cell, *limits))
                .fold(RateHeadroom::default(), RateHeadroom::merge),
            // One round trip for key and account together.
            Cells::Redis(r) => r.headroom(&cells).await,
        })
    }
}

impl Admission {
    /// tpm is charged at admission with the reserved tokens and corrected to the
    /// actual usage here (DESIGN §3): what was not used comes back, usage beyond what
    /// the cell admitted (it admits at most one full burst) is owed.
    pub fn settle(self, actual_tokens: u64) {
        for g in self.grants.iter().filter(|g| g.limits.tpm > 0) {
            let admitted = g.tokens.min(g.limits.tpm);
            let delta = i64::try_from(actual_tokens)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(admitted).unwrap_or(i64::MAX));
            match &self.limiter.cells {
                Cells::Local(l) => l.correct_tokens(&g.cell, g.limits, delta),
                Cells::Redis(r) => {
                    let (r, cell, limits) = (r.clone(), g.cell.clone(), g.limits);
                    self.limiter
                        .tasks
                        .spawn(async move { r.correct_tokens(&cell, limits, delta).await });
                }
            }
        }
    }

    /// A refused admission gives back what its earlier grants took.
    async fn undo(&mut self) {
        for g in &self.grants {
            match &self.limiter.cells {
                Cells::Local(l) => l.refund(&g.cell, g.limits, 1, g.tokens),
                Cells::Redis(r) => r.refund(&g.cell, g.limits, 1, g.tokens).await,
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        for g in self.grants.iter().filter(|g| g.limits.max_concurrent > 0) {
            match &self.limiter.cells {
                Cells::Local(l) => l.release_slot(&g.cell),
                Cells::Redis(r) => {
                    let (r, cell) = (r.clone(), g.cell.clone());
                    self.limiter
                        .tasks
                        .spawn(async move { r.release_slot(&cell).await });
                }
            }
        }
    }
}
