//! Credits on the hot path without a database round trip (DESIGN §4). Each instance
//! holds a *lease* per account: a slice of the balance granted atomically by the store
//! (never more than the balance not leased to others). Requests reserve their maximum
//! cost from the lease in memory; settlement charges the actual cost, and the batched
//! writer moves it from the lease to the ledger. Concurrent requests therefore can
//! never overdraw, on one instance or many; a crashed instance's lease expires and
//! returns to the account.

mod keys;

use crate::tasks::Tasks;
use crate::usage::Backlog;
use keys::KeyBook;
use modelgate_core::error::InsufficientBalance;
use modelgate_core::money::NanoUsd;
use modelgate_core::GatewayError;
use modelgate_store::{Account, ApiKey, Charge, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A lease unused this long goes back to the account, so other instances and the
/// operator see the balance free again.
pub const LEASE_IDLE: Duration = Duration::from_secs(2);
/// Leases are taken for this many requests like the current one, to keep the store
/// off the request path.
pub(super) const LEASE_AHEAD: i64 = 16;

/// How long leases live, from `[storage] lease_ttl_ms` (default 60 s).
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    /// The database expires a lease this long after its last renewal (its clock).
    pub ttl: Duration,
}

impl LeaseTiming {
    /// Renewals run every sixth of the TTL (maintenance ticks are seconds).
    fn renew_every_ticks(self) -> u64 {
        (self.ttl.as_secs() / 6).max(1)
    }

    /// An instance stops spending a lease a renewal interval (and a second) before
    /// the database would expire it, measured from before the renewal was sent.
    pub(super) fn spendable_for(self) -> Duration {
        self.ttl
            .saturating_sub(Duration::from_secs(self.renew_every_ticks() + 1))
            .max(self.ttl / 2)
    }

    /// Expired leases go back to their accounts only this long after expiry: a
    /// cut-off instance's charges, made before it stopped spending and written when
    /// it is back, are still covered by the lease they came from.
    fn grace(self) -> Duration {
        self.ttl * 2
    }

    pub(super) fn ttl_ms(self) -> i64 {
        self.ttl.as_millis() as i64
    }
}

#[derive(Debug, Default)]
struct Local {
    lease: i64,
    reserved: i64,
    /// Charged here, not yet written by the batch writer.
    pending: i64,
    last_used: Option<Instant>,
    /// The lease may be spent until then (fenced: unknown or reclaimed is never).
    valid_until: Option<Instant>,
}

impl Local {
    fn free(&self) -> i64 {
        self.lease - self.reserved - self.pending
    }

    /// Reserves from the lease when it covers `amount` and is still valid.
    fn try_reserve(&mut self, amount: i64, now: Instant) -> bool {
        let valid = self.valid_until.is_some_and(|t| now < t);
        let ok = valid && self.free() >= amount;
        if ok {
            self.reserved += amount;
        }
        ok
    }
}

#[derive(Default)]
struct AccountBook {
    local: Mutex<Local>,
    /// Serialises lease growth so that a burst asks the store once.
    grow: tokio::sync::Mutex<()>,
}

impl AccountBook {
    fn with<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        f(&mut self.local.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub struct Ledger {
    instance_id: String,
    backlog: Backlog,
    tasks: Tasks,
    timing: LeaseTiming,
    store: Arc<dyn Store>,
    accounts: Mutex<HashMap<String, Arc<AccountBook>>>,
    keys: KeyBook,
}

/// Money held for one request until it settles; dropping it releases the hold.
pub struct Hold {
    book: Arc<AccountBook>,
    key: Option<keys::KeyHold>,
    amount: i64,
    account_id: String,
    key_id: String,
    settled: bool,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.settled {
            let amount = self.amount;
            self.book.with(|l| l.reserved -= amount);
        }
    }
}

impl Hold {
    pub fn amount(&self) -> NanoUsd {
        NanoUsd(self.amount)
    }

    /// Charges `cost`, never more than was held (so no request can take a balance
    /// below zero), and releases the rest. Returns what was charged and the charge
    /// for the batch writer.
    pub fn settle(mut self, cost: NanoUsd) -> (NanoUsd, Option<Charge>) {
        self.settled = true;
        let amount = self.amount;
        let cost = if cost.0 > amount {
            // Usage beyond the reservation means a bound was wrong: bill the bound.
            tracing::warn!(
                cost_nano = cost.0,
                held_nano = amount,
                "usage cost more than its reservation; charged the reservation"
            );
            metrics::counter!("modelgate_charges_capped_total").increment(1);
            amount
        } else {
            cost.0.max(0)
        };
        self.book.with(|l| {
            l.reserved -= amount;
            l.pending += cost;
        });
        let period_start = self.key.take().map(|k| k.settle(cost)).unwrap_or(0);
        let charge = (cost > 0).then(|| Charge {
            account_id: self.account_id.clone(),
            key_id: self.key_id.clone(),
            request_id: String::new(),
            amount_nano: cost,
            key_period_start: period_start,
        });
        (NanoUsd(cost), charge)
    }
}

impl Ledger {
    pub fn new(
        store: Arc<dyn Store>,
        instance_id: String,
        backlog: Backlog,
        tasks: Tasks,
        timing: LeaseTiming,
    ) -> Ledger {
        let keys = KeyBook::new(
            Arc::clone(&store),
            instance_id.clone(),
            tasks.clone(),
            timing,
        );
        Ledger {
            keys,
            instance_id,
            backlog,
            tasks,
            timing,
            store,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    fn book(&self, account_id: &str) -> Arc<AccountBook> {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        // Look up before inserting: the hot path allocates no key.
        if let Some(book) = map.get(account_id) {
            return Arc::clone(book);
        }
        Arc::clone(map.entry(account_id.to_owned()).or_default())
    }

    /// Reserves `amount` for a request of this key, or answers 402 with the contract's
    /// details (the key's spend limit is checked first: it is the narrower one).
    pub async fn reserve(
        &self,
        account: &Account,
        key: &ApiKey,
        amount: NanoUsd,
    ) -> Result<Hold, GatewayError> {
        if self.backlog.full() {
            // §4: never serve what cannot be billed.
            return Err(GatewayError::NotReady {
                reason: format!(
                    "{} usage records are waiting for the database, so new billable requests are paused until they are written.",
                    self.backlog.unwritten()
                ),
            });
        }
        let amount = amount.0.max(0);
        let key_hold = self.keys.reserve(key, amount).await?;
        let book = self.book(&account.id);
        let now = Instant::now();
        let granted = book.with(|l| {
            l.last_used = Some(now);
            l.try_reserve(amount, now)
        });
        if !granted {
            self.grow_and_reserve(&book, account, amount).await?;
        }
        Ok(Hold {
            book,
            key: key_hold,
            amount,
            account_id: account.id.clone(),
            key_id: key.id.clone(),
            settled: false,
        })
    }

    async fn grow_and_reserve(
        &self,
        book: &Arc<AccountBook>,
        account: &Account,
        amount: i64,
    ) -> Result<(), GatewayError> {
        let _turn = book.grow.lock().await;
        // Another request may have grown the lease while this one waited.
        if book.with(|l| l.try_reserve(amount, Instant::now())) {
            return Ok(());
        }
        let shortfall = amount - book.with(|l| l.free().max(0));
        let want = shortfall.saturating_add(amount.saturating_mul(LEASE_AHEAD - 1));
        self.acquire(book, &account.id, want, shortfall).await?;
        if book.with(|l| l.try_reserve(amount, Instant::now())) {
            return Ok(());
        }
        let balance = self
            .balance(&account.id)
            .await
            .unwrap_or(account.balance_nano);
        let available = balance - self.reserved(&account.id);
        Err(GatewayError::InsufficientBalance(Box::new(
            InsufficientBalance {
                balance_usd: NanoUsd(balance).to_usd_string(),
                available_usd: NanoUsd(available.max(0).min(balance)).to_usd_string(),
                required_usd: NanoUsd(amount).to_usd_string(),
                key_limit: false,
            },
        )))
    }

    /// Asks the store for more lease in a tracked task: a request cancelled while
    /// the grant commits must not leave money granted in the store but unknown here.
    async fn acquire(
        &self,
        book: &Arc<AccountBook>,
        account_id: &str,
        want: i64,
        min: i64,
    ) -> Result<(), GatewayError> {
        let (store, book, timing) = (Arc::clone(&self.store), Arc::clone(book), self.timing);
        let (instance, account) = (self.instance_id.clone(), account_id.to_owned());
        let grant = async move {
            let ttl = timing.ttl_ms();
            store
                .acquire_lease(&instance, &account, want, min, ttl)
                .await
        };
        grant_in_task(
            &self.tasks,
            grant,
            move |granted, valid_until| {
                book.with(|l| {
                    l.lease += granted;
                    // The whole lease's expiry moved with this grant.
                    l.valid_until = Some(valid_until);
                });
            },
            timing,
        )
        .await
    }

    /// The account's balance as of now: the store's, less charges not yet written.
    pub async fn balance(&self, account_id: &str) -> Result<i64, GatewayError> {
        let stored = self
            .store
            .get_account(account_id)
            .await
            .map_err(GatewayError::internal)?;
        Ok(stored.balance_nano - self.book(account_id).with(|l| l.pending))
    }

    pub fn reserved(&self, account_id: &str) -> i64 {
        self.book(account_id).with(|l| l.reserved)
    }

    /// Called by the batch writer once charges are in the store.
    pub fn written(&self, charges: &[Charge]) {
        for c in charges {
            self.book(&c.account_id).with(|l| {
                l.pending -= c.amount_nano;
                // A fenced lease is already 0: the charge came from what it was.
                l.lease = (l.lease - c.amount_nano).max(0);
            });
            self.keys.written(c);
        }
    }

    /// Every second: gives idle leases back; every sixth of the TTL also keeps
    /// the rest alive and reclaims dead instances' leases.
    pub async fn maintain(&self, tick: u64) {
        let candidates: Vec<(String, Arc<AccountBook>)> = {
            let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .filter(|(_, book)| book.with(|l| l.lease > 0 && l.reserved == 0 && l.pending == 0))
                .map(|(id, book)| (id.clone(), Arc::clone(book)))
                .collect()
        };
        for (account, book) in candidates {
            // Holding the growth turn: a request arriving now waits for the release
            // to reach the store instead of finding the balance leased and gone.
            let _turn = book.grow.lock().await;
            let amount = book.with(|l| {
                let quiet = l.last_used.is_none_or(|t| t.elapsed() >= LEASE_IDLE);
                let idle = quiet && l.reserved == 0 && l.pending == 0;
                if idle {
                    std::mem::take(&mut l.lease)
                } else {
                    0
                }
            });
            if amount == 0 {
                continue;
            }
            if let Err(e) = self
                .store
                .release_lease(&self.instance_id, &account, amount)
                .await
            {
                tracing::warn!(error = %e, "returning an idle lease failed; it will expire");
            }
        }
        self.keys.release_idle(false).await;
        if !tick.is_multiple_of(self.timing.renew_every_ticks()) {
            return;
        }
        self.renew().await;
        let grace = self.timing.grace().as_millis() as i64;
        if let Err(e) = self.store.reclaim_expired_leases(grace).await {
            tracing::warn!(error = %e, "reclaiming expired leases failed");
        }
    }

    /// Keeps this instance's leases alive; a lease the store no longer has was
    /// reclaimed while this instance was cut off: it is fenced (never spent again).
    async fn renew(&self) {
        let asked = Instant::now();
        let ttl = self.timing.ttl_ms();
        let renewed = match self.store.renew_leases(&self.instance_id, ttl).await {
            Ok(held) => held,
            Err(e) => {
                // Unrenewed leases run out locally at their `valid_until`.
                tracing::warn!(error = %e, "renewing leases failed");
                return;
            }
        };
        let valid_until = asked + self.timing.spendable_for();
        self.keys.renewed(&renewed.keys, valid_until);
        let held = renewed.accounts;
        let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        for (account, book) in map.iter() {
            book.with(|l| {
                if held.iter().any(|a| a == account) {
                    l.valid_until = Some(valid_until);
                } else if l.lease > 0 && l.valid_until.is_some_and(|t| t < valid_until) {
                    // Not granted after this renewal was sent, and gone: fenced.
                    tracing::error!(account = %account, lease_nano = l.lease, "a balance lease was reclaimed while this instance could not reach the database; it is no longer spent");
                    l.lease = 0;
                    l.valid_until = None;
                }
            });
        }
    }

    /// At shutdown, after the last charges are written: return every lease.
    pub async fn release_all(&self) {
        let all: Vec<(String, i64)> = {
            let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(id, b)| (id.clone(), b.with(|l| std::mem::take(&mut l.lease))))
                .filter(|(_, a)| *a > 0)
                .collect()
        };
        for (account, amount) in all {
            let _ = self
                .store
                .release_lease(&self.instance_id, &account, amount)
                .await;
        }
        self.keys.release_idle(true).await;
    }
}

/// Runs a lease grant in a tracked task and applies it there (with the time until
/// which the grown lease may be spent): a request cancelled while the grant commits
/// must not leave money granted in the store but unknown here.
pub(super) async fn grant_in_task<G, A>(
    tasks: &Tasks,
    grant: G,
    apply: A,
    timing: LeaseTiming,
) -> Result<(), GatewayError>
where
    G: std::future::Future<Output = modelgate_store::StoreResult<i64>> + Send + 'static,
    A: FnOnce(i64, Instant) + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tasks.spawn(async move {
        let asked = Instant::now();
        let result = grant.await;
        if let Ok(granted) = result {
            apply(granted, asked + timing.spendable_for());
        }
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(storage_unreachable(e)),
        Err(_) => Err(GatewayError::internal(
            "the lease task ended without an answer",
        )),
    }
}

/// The store could not be asked: 503, not a 500 (nothing is wrong with the request).
pub(super) fn storage_unreachable(e: modelgate_store::StoreError) -> GatewayError {
    tracing::warn!(error = %e, "the balance store is unreachable");
    GatewayError::NotReady {
        reason: "the gateway cannot reach its database to check this account's balance.".into(),
    }
}
