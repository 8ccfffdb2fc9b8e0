//! Key spend limits (`max_spend_usd` per `spend_period`, UTC). Spend is loaded from the
//! store once per key and period, then tracked here: reserved in flight, pending until
//! written, spent once written.

use modelgate_core::error::InsufficientBalance;
use modelgate_core::money::NanoUsd;
use modelgate_core::GatewayError;
use modelgate_store::{ApiKey, Charge, SpendPeriod, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    period_start: i64,
    spent: i64,
    reserved: i64,
    pending: i64,
}

pub struct KeyBook {
    store: Arc<dyn Store>,
    states: Arc<Mutex<HashMap<String, KeyState>>>,
}

/// A key's share of a request's hold.
pub struct KeyHold {
    states: Arc<Mutex<HashMap<String, KeyState>>>,
    key_id: String,
    amount: i64,
    period_start: i64,
    settled: bool,
}

impl KeyHold {
    /// Moves the hold to pending spend; returns the period the charge belongs to.
    pub fn settle(mut self, cost: i64) -> i64 {
        self.settled = true;
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get_mut(&self.key_id) {
            s.reserved -= self.amount;
            if s.period_start == self.period_start {
                s.pending += cost;
            }
        }
        self.period_start
    }
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        if !self.settled {
            let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = map.get_mut(&self.key_id) {
                s.reserved -= self.amount;
            }
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
    pub fn new(store: Arc<dyn Store>) -> KeyBook {
        KeyBook {
            store,
            states: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn reserve(
        &self,
        key: &ApiKey,
        amount: i64,
    ) -> Result<Option<KeyHold>, GatewayError> {
        let Some(limit) = key.max_spend_nano else {
            return Ok(None);
        };
        let start = period_start(key.spend_period, OffsetDateTime::now_utc());
        let known = {
            let map = self.states.lock().unwrap_or_else(|p| p.into_inner());
            map.get(&key.id).is_some_and(|s| s.period_start == start)
        };
        if !known {
            let spent = self
                .store
                .key_spend(&key.id, start)
                .await
                .map_err(GatewayError::internal)?;
            let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
            match map.get_mut(&key.id) {
                // Another request loaded it meanwhile.
                Some(s) if s.period_start == start => {}
                Some(s) => {
                    s.period_start = start;
                    s.spent = spent;
                    s.pending = 0;
                }
                None => {
                    map.insert(
                        key.id.clone(),
                        KeyState {
                            period_start: start,
                            spent,
                            reserved: 0,
                            pending: 0,
                        },
                    );
                }
            }
        }
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry(key.id.clone()).or_default();
        let remaining = limit - s.spent - s.pending;
        if remaining - s.reserved < amount {
            return Err(GatewayError::InsufficientBalance(Box::new(
                InsufficientBalance {
                    balance_usd: NanoUsd(remaining.max(0)).to_usd_string(),
                    available_usd: NanoUsd((remaining - s.reserved).max(0)).to_usd_string(),
                    required_usd: NanoUsd(amount).to_usd_string(),
                    key_limit: true,
                },
            )));
        }
        s.reserved += amount;
        Ok(Some(KeyHold {
            states: Arc::clone(&self.states),
            key_id: key.id.clone(),
            amount,
            period_start: start,
            settled: false,
        }))
    }

    pub fn written(&self, charge: &Charge) {
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get_mut(&charge.key_id) {
            if s.period_start == charge.key_period_start {
                s.pending -= charge.amount_nano;
                s.spent += charge.amount_nano;
            }
        }
    }
}
