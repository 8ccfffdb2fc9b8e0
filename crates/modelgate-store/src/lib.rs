//! Persistent storage behind one `Store` trait: accounts, keys, ledger, usage records.
//! SQLite is the embedded default; every implementation passes the same contract tests.

mod keys;
mod model;
mod sqlite;

pub use keys::{generate_key, hash_key, KEY_PREFIX};
pub use model::*;
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

    /// Written in batches off the request path.
    async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()>;
    async fn list_usage(&self, query: &UsageQuery) -> StoreResult<UsagePage>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// Opens the store named by a `database_url` (`sqlite://path` or `sqlite::memory:`).
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(database_url).await?));
    }
    Err(StoreError::Invalid(format!(
        "unsupported database_url scheme in \"{}\": this build supports sqlite://",
        database_url.split("://").next().unwrap_or("")
    )))
}
