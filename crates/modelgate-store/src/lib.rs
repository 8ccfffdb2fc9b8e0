//! Persistent storage behind one `Store` trait: accounts, keys, ledger, usage records.
//! SQLite is the embedded default; every implementation passes the same contract tests.

#[cfg(test)]
mod contract_tests;
mod keys;
mod model;
mod postgres;
mod sqlite;

pub use keys::{generate_key, hash_key, hex, random_id, KEY_PREFIX};
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An account's stored files: their count and total bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileUsage {
    pub files: i64,
    pub bytes: i64,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> StoreResult<()>;
    /// Reachable and answering (for /readyz).
    async fn ping(&self) -> StoreResult<()>;
    /// Increases on every change to accounts or keys, from any process.
    async fn change_version(&self) -> StoreResult<i64>;
    /// Everything the hot path caches: all accounts and keys.
    async fn snapshot(&self) -> StoreResult<Snapshot>;

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account>;
    async fn get_account(&self, id: &str) -> StoreResult<Account>;
    async fn add_credits(
        &self,
        account_id: &str,
        amount_nano: i64,
        note: Option<String>,
    ) -> StoreResult<i64>;
    async fn create_key(&self, account_id: &str, new: NewKey) -> StoreResult<CreatedKey>;
    async fn revoke_key(&self, key_id: &str) -> StoreResult<()>;
    async fn list_keys(&self, account_id: &str) -> StoreResult<Vec<ApiKey>>;
    /// The key with this SHA-256 hash (revoked and expired ones included) and its
    /// account: a key created elsewhere works before the next snapshot (DESIGN §4).
    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<(ApiKey, Account)>>;

    /// Written in batches off the request path.
    async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()>;
    /// Usage records and charges in one transaction: balances, leases, key spend
    /// and ledger entries move together, so money is never lost or counted twice.
    async fn settle(&self, batch: &SettleBatch) -> StoreResult<()>;

    /// Grants up to `want` (at least `min`, else nothing) of the account's balance
    /// not leased to any instance. Returns the amount granted.
    async fn acquire_lease(
        &self,
        instance_id: &str,
        account_id: &str,
        want: i64,
        min: i64,
        ttl_ms: i64,
    ) -> StoreResult<i64>;
    /// Returns unused lease to the account.
    async fn release_lease(
        &self,
        instance_id: &str,
        account_id: &str,
        amount: i64,
    ) -> StoreResult<()>;
    /// Keeps this instance's leases alive, by the database's clock; returns the
    /// accounts whose lease it still holds (a lease missing here was reclaimed: the
    /// instance must stop spending it).
    async fn renew_leases(&self, instance_id: &str, ttl_ms: i64) -> StoreResult<Renewed>;
    /// Returns leases expired for more than `grace_ms` (of crashed or cut-off
    /// instances) to their accounts. The grace keeps a cut-off instance's charges,
    /// made before its lease expired and written when it is back, covered.
    async fn reclaim_expired_leases(&self, grace_ms: i64) -> StoreResult<u64>;
    /// Grants up to `want` (at least `min`, else nothing) of the key's spend limit in
    /// the period not yet spent or leased to any instance; returns the amount.
    async fn acquire_key_lease(&self, instance_id: &str, grant: KeyGrant<'_>) -> StoreResult<i64>;
    /// Returns unused key lease.
    async fn release_key_lease(
        &self,
        instance_id: &str,
        key_id: &str,
        period_start: i64,
        amount: i64,
    ) -> StoreResult<()>;
    /// The key's spend in the period starting at `period_start`.
    async fn key_spend(&self, key_id: &str, period_start: i64) -> StoreResult<i64>;
    /// The sum of the account's ledger entries: what its balance must equal.
    async fn ledger_balance(&self, account_id: &str) -> StoreResult<i64>;
    async fn list_usage(&self, query: &UsageQuery) -> StoreResult<UsagePage>;

    async fn insert_file(&self, file: &FileMeta) -> StoreResult<()>;
    /// The account's file; `NotFound` for another account's (DESIGN §1).
    async fn get_file(&self, account_id: &str, id: &str) -> StoreResult<FileMeta>;
    async fn list_files(&self, account_id: &str) -> StoreResult<Vec<FileMeta>>;
    async fn delete_file(&self, account_id: &str, id: &str) -> StoreResult<()>;
    /// How many files the account holds and their bytes together (upload quotas).
    async fn file_usage(&self, account_id: &str) -> StoreResult<FileUsage>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// Opens the store named by a `database_url` (`sqlite://path`, `sqlite::memory:` or
/// `postgres://user@host/db`).
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(database_url).await?));
    }
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(database_url).await?));
    }
    Err(StoreError::Invalid(format!(
        "unsupported database_url scheme in \"{}\": use sqlite:// or postgres://",
        database_url.split("://").next().unwrap_or("")
    )))
}
