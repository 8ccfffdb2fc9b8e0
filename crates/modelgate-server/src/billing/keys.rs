//! Key spend limits (`max_spend_usd` per `spend_period`, UTC), exact across instances:
//! like balances, each instance spends from a *lease* of the key's allowance in the
//! period, granted atomically by the store (never more than the limit less what was
//! spent and what other instances hold). In memory: reserved in flight, pending until
//! written.

use super::{grant_in_task, LeaseTiming, LEASE_AHEAD, LEASE_IDLE};
use crate::tasks::Tasks;
use modelgate_core::error::InsufficientBalance;
use modelgate_core::money::NanoUsd;
use modelgate_core::GatewayError;
use modelgate_store::{ApiKey, Charge, KeyGrant, SpendPeriod, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use time::OffsetDateTime;

#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    period_start: i64,
    lease: i64,
    reserved: i64,
    /// Charged here, not yet written by the batch writer.
    pending: i64,
    last_used: Option<Instant>,
    valid_until: Option<Instant>,
}

impl KeyState {
    fn free(&self) -> i64 {
        self.lease - self.reserved - self.pending
    }

    fn try_reserve(&mut self, amount: i64, now: Instant) -> bool {
        let ok = self.valid_until.is_some_and(|t| now < t) && self.free() >= amount;
        if ok {
            self.reserved += amount;
        }
        ok
    }
}

type States = Arc<Mutex<HashMap<String, KeyState>>>;

fn with<R>(states: &States, key_id: &str, f: impl FnOnce(&mut KeyState) -> R) -> Option<R> {
    let mut map = states.lock().unwrap_or_else(|p| p.into_inner());
    map.get_mut(key_id).map(f)
}

pub struct KeyBook {
    store: Arc<dyn Store>,
    instance_id: String,
    tasks: Tasks,
    timing: LeaseTiming,
    states: States,
    /// Serialises lease growth so that a burst asks the store once.
    grow: tokio::sync::Mutex<()>,
}

/// A key's share of a request's hold.
pub struct KeyHold {
    states: States,
    key_id: String,
    amount: i64,
    period_start: i64,
    settled: bool,
}

impl KeyHold {
    /// Moves the hold to pending spend; returns the period the charge belongs to.
    pub fn settle(mut self, cost: i64) -> i64 {
        self.settled = true;
        let (amount, period) = (self.amount, self.period_start);
        with(&self.states, &self.key_id, |s| {
            if s.period_start == period {
                s.reserved -= amount;
                s.pending += cost;
            }
        });
        self.period_start
    }
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        if !self.settled {
            let (amount, period) = (self.amount, self.period_start);
            with(&self.states, &self.key_id, |s| {
                if s.period_start == period {
                    s.reserved -= amount;
                }
            });
        }
    }
}

pub fn period_start(period: SpendPeriod, now: OffsetDateTime) -> i64 {
    let day = now.date();
    let start = match period {
        SpendPeriod::Total => return 0,
        SpendPeriod::Day => day,
        SpendPeriod::Month => day.replace_day(1).unwrap_or(day),
    };
    start.midnight().assume_utc().unix_timestamp() * 1000
}

impl KeyBook {
    pub fn new(
        store: Arc<dyn Store>,
        instance_id: String,
        tasks: Tasks,
        timing: LeaseTiming,
    ) -> KeyBook {
        KeyBook {
            store,
            instance_id,
            tasks,
            timing,
            states: Arc::default(),
            grow: tokio::sync::Mutex::new(()),
        }
    }

    /// Reserves `amount` of the key's allowance, or answers 402 (`key_limit`).
    pub async fn reserve(
        &self,
        key: &ApiKey,
        amount: i64,
    ) -> Result<Option<KeyHold>, GatewayError> {
        let Some(limit) = key.max_spend_nano else {
            return Ok(None);
        };
        let start = period_start(key.spend_period, OffsetDateTime::now_utc());
        if !self.try_reserve(&key.id, start, amount) {
            let _turn = self.grow.lock().await;
            if !self.try_reserve(&key.id, start, amount) {
                let shortfall = amount - self.free(&key.id);
                let want = shortfall.saturating_add(amount.saturating_mul(LEASE_AHEAD - 1));
                self.acquire(&key.id, start, limit, want, shortfall).await?;
                if !self.try_reserve(&key.id, start, amount) {
                    return Err(self.refusal(&key.id, start, limit, amount).await);
                }
            }
        }
        Ok(Some(KeyHold {
            states: Arc::clone(&self.states),
            key_id: key.id.clone(),
            amount,
            period_start: start,
            settled: false,
        }))
    }

    /// Reserves from the local lease of this period (a new period starts afresh: the
    /// old one's lease expires in the store, its charges still count for it).
    fn try_reserve(&self, key_id: &str, start: i64, amount: i64) -> bool {
        let now = Instant::now();
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let s = match map.get_mut(key_id) {
            Some(s) => s,
            None => map.entry(key_id.to_owned()).or_default(),
        };
        if s.period_start != start {
            *s = KeyState {
                period_start: start,
                ..KeyState::default()
            };
        }
        s.last_used = Some(now);
        s.try_reserve(amount, now)
    }

    fn free(&self, key_id: &str) -> i64 {
        with(&self.states, key_id, |s| s.free().max(0)).unwrap_or(0)
    }

    /// A grant in a tracked task: a cancelled request leaves no grant unknown here.
    async fn acquire(
        &self,
        key_id: &str,
        start: i64,
        limit: i64,
        want: i64,
        min: i64,
    ) -> Result<(), GatewayError> {
        let (store, states, timing) = (
            Arc::clone(&self.store),
            Arc::clone(&self.states),
            self.timing,
        );
        let (instance, key_id) = (self.instance_id.clone(), key_id.to_owned());
        let key = key_id.clone();
        let grant = async move {
            let grant = KeyGrant {
                key_id: &key,
                period_start: start,
                limit,
                want,
                min,
                ttl_ms: timing.ttl_ms(),
            };
            store.acquire_key_lease(&instance, grant).await
        };
        let apply = move |granted, valid_until| {
            with(&states, &key_id, |s| {
                if s.period_start == start {
                    s.lease += granted;
                    s.valid_until = Some(valid_until);
                }
            });
        };
        grant_in_task(&self.tasks, grant, apply, timing).await
    }

    /// 402 with the key's remaining allowance (limit less what was spent, written or
    /// not) and that less what this instance holds for requests in flight.
    async fn refusal(&self, key_id: &str, start: i64, limit: i64, amount: i64) -> GatewayError {
        let spent = self.store.key_spend(key_id, start).await.unwrap_or(0);
        let (pending, reserved) =
            with(&self.states, key_id, |s| (s.pending, s.reserved)).unwrap_or((0, 0));
        let remaining = (limit - spent - pending).max(0);
        GatewayError::InsufficientBalance(Box::new(InsufficientBalance {
            balance_usd: NanoUsd(remaining).to_usd_string(),
            available_usd: NanoUsd((remaining - reserved).max(0)).to_usd_string(),
            required_usd: NanoUsd(amount).to_usd_string(),
            key_limit: true,
        }))
    }

    pub fn written(&self, charge: &Charge) {
        with(&self.states, &charge.key_id, |s| {
            if s.period_start == charge.key_period_start {
                s.pending -= charge.amount_nano;
                s.lease = (s.lease - charge.amount_nano).max(0);
            }
        });
    }

    /// Leases the renewal found (`held`) stay valid; others with money are fenced.
    pub fn renewed(&self, held: &[(String, i64)], valid_until: Instant) {
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for (key_id, s) in map.iter_mut() {
            if held
                .iter()
                .any(|(k, p)| k == key_id && *p == s.period_start)
            {
                s.valid_until = Some(valid_until);
            } else if s.lease > 0 && s.valid_until.is_some_and(|t| t < valid_until) {
                tracing::error!(key_id = %key_id, "a key's spend lease was reclaimed while this instance could not reach the database; it is no longer spent");
                s.lease = 0;
                s.valid_until = None;
            }
        }
    }

    /// Gives back leases unused for `LEASE_IDLE` (every one at shutdown).
    pub async fn release_idle(&self, all: bool) {
        let idle: Vec<(String, i64, i64)> = {
            let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
            map.iter_mut()
                .filter(|(_, s)| s.lease > 0 && s.reserved == 0 && s.pending == 0)
                .filter(|(_, s)| all || s.last_used.is_none_or(|t| t.elapsed() >= LEASE_IDLE))
                .map(|(id, s)| (id.clone(), s.period_start, std::mem::take(&mut s.lease)))
                .collect()
        };
        for (key_id, start, amount) in idle {
            if let Err(e) = self
                .store
                .release_key_lease(&self.instance_id, &key_id, start, amount)
                .await
            {
                tracing::warn!(error = %e, "returning an idle key lease failed; it will expire");
            }
        }
    }
}
