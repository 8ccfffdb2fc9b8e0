//! SQLite store (the embedded default): WAL mode, one file, migrations embedded.

use crate::keys::{generate_key, random_id};
use crate::model::*;
use crate::{Store, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

mod rows;

use rows::*;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_billing.sql")),
    (3, include_str!("../migrations/sqlite/0003_files.sql")),
    (4, include_str!("../migrations/sqlite/0004_key_leases.sql")),
    (
        5,
        include_str!("../migrations/sqlite/0005_settled_batches.sql"),
    ),
];

/// Readers share a small pool; every write goes through one connection with
/// `BEGIN IMMEDIATE`, so writers queue here instead of failing with SQLITE_BUSY when
/// a read transaction would have to upgrade (WAL readers never block).
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

fn now_ms() -> i64 {
    modelgate_core::time_fmt::now_unix_ms()
}

impl SqliteStore {
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Invalid(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let in_memory = url.contains(":memory:");
        if in_memory {
            // An in-memory database exists per connection: keep exactly one.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            return Ok(Self {
                writer: pool.clone(),
                pool,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self { pool, writer })
    }

    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        // A BEGIN cancelled half-way (the client went away) would put the connection
        // back in its pool inside a transaction, failing every later write: begin in a
        // task of its own, which finishes however the caller ends (an unclaimed
        // transaction is then dropped there and rolled back).
        let pool = self.writer.clone();
        tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await })
            .await
            .map_err(|e| StoreError::Invalid(format!("beginning a transaction failed: {e}")))?
            .map_err(StoreError::from)
    }

    async fn bump_version(&self, tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> StoreResult<()> {
        sqlx::query("UPDATE change_version SET version = version + 1 WHERE id = 1")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .execute(&self.writer)
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.write_tx().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_none() {
                // One statement at a time: the migration files hold no ';' inside literals.
                for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                    .bind(version)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn change_version(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT version FROM change_version WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn snapshot(&self) -> StoreResult<Snapshot> {
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM change_version WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let accounts = sqlx::query("SELECT * FROM accounts")
            .fetch_all(&mut *tx)
            .await?;
        let keys = sqlx::query("SELECT * FROM api_keys")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Snapshot {
            version,
            accounts: accounts
                .iter()
                .map(account_from)
                .collect::<StoreResult<_>>()?,
            keys: keys.iter().map(key_from).collect::<StoreResult<_>>()?,
        })
    }

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        let id = random_id("acct_");
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO accounts (id, name, balance_nano, allowed_models, rpm, tpm, max_concurrent, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(&new.name)
            .bind(new.credits_nano)
            .bind(json_list(&new.allowed_models))
            .bind(opt_i64(new.limits.rpm))
            .bind(opt_i64(new.limits.tpm))
            .bind(opt_i64(new.limits.max_concurrent))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if new.credits_nano != 0 {
            sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES (?, ?, 'credit', 'initial credits', ?)")
                .bind(&id)
                .bind(new.credits_nano)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        self.bump_version(&mut tx).await?;
        tx.commit().await?;
        self.get_account(&id).await
    }

    async fn get_account(&self, id: &str) -> StoreResult<Account> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        account_from(&row)
    }

    async fn add_credits(
        &self,
        account_id: &str,
        amount_nano: i64,
        note: Option<String>,
    ) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT balance_nano, leased_nano FROM accounts WHERE id = ?")
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (balance, leased) = row.ok_or(StoreError::NotFound)?;
        match balance.checked_add(amount_nano) {
            None => {
                return Err(StoreError::Invalid(
                    "the balance would exceed the largest one the ledger holds (about 9.2e9 USD)"
                        .into(),
                ))
            }
            // Money leased to instances may be spent by requests in flight.
            Some(after) if amount_nano < 0 && after < leased.max(0) => {
                return Err(StoreError::Invalid(format!(
                    "the balance would drop below what requests in flight may still spend ({leased} nano-USD)"
                )))
            }
            Some(_) => {}
        }
        let balance: Option<i64> = sqlx::query_scalar("UPDATE accounts SET balance_nano = balance_nano + ?, updated_at = ? WHERE id = ? RETURNING balance_nano")
            .bind(amount_nano)
            .bind(now_ms())
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        let balance = balance.ok_or(StoreError::NotFound)?;
        sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES (?, ?, 'credit', ?, ?)")
            .bind(account_id)
            .bind(amount_nano)
            .bind(note)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        self.bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn create_key(&self, account_id: &str, new: NewKey) -> StoreResult<CreatedKey> {
        self.get_account(account_id).await?;
        let generated =
            generate_key().map_err(|e| StoreError::Invalid(format!("no randomness: {e}")))?;
        let id = random_id("key_");
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO api_keys (id, account_id, name, key_hash, prefix, allowed_models, rpm, tpm, max_concurrent, max_spend_nano, spend_period, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(account_id)
            .bind(&new.name)
            .bind(&generated.hash)
            .bind(&generated.prefix)
            .bind(json_list(&new.allowed_models))
            .bind(opt_i64(new.limits.rpm))
            .bind(opt_i64(new.limits.tpm))
            .bind(opt_i64(new.limits.max_concurrent))
            .bind(new.max_spend_nano)
            .bind(new.spend_period.as_str())
            .bind(new.expires_at)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        self.bump_version(&mut tx).await?;
        tx.commit().await?;
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = ?")
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
        Ok(CreatedKey {
            key: key_from(&row)?,
            plaintext: generated.plaintext,
        })
    }

    async fn revoke_key(&self, key_id: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let updated =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
                .bind(now_ms())
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, account_id: &str) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from).collect()
    }

    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<(ApiKey, Account)>> {
        let Some(row) = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let key = key_from(&row)?;
        let account = self.get_account(&key.account_id).await?;
        Ok(Some((key, account)))
    }

    async fn insert_usage(&self, records: &[UsageRecord]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_records(&mut tx, records).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn settle(&self, batch: &SettleBatch) -> StoreResult<()> {
        let (accounts, keys) = aggregate(&batch.charges);
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        // A retry of a batch that did commit (its acknowledgement lost) changes nothing.
        let settled: Option<i64> =
            sqlx::query_scalar("SELECT settled_at FROM settled_batches WHERE id = ?")
                .bind(&batch.id)
                .fetch_optional(&mut *tx)
                .await?;
        if settled.is_some() {
            return Ok(());
        }
        sqlx::query("INSERT INTO settled_batches (id, settled_at) VALUES (?, ?)")
            .bind(&batch.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        insert_records(&mut tx, &batch.records).await?;
        for (account, (amount, requests)) in &accounts {
            // Only what this instance still holds leaves `leased_nano`: a lease that was
            // reclaimed (this instance cut off too long) is already back in the pool,
            // and other instances' leases must not shrink with this charge.
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT amount_nano FROM balance_leases WHERE instance_id = ? AND account_id = ?",
            )
            .bind(&batch.instance_id)
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
            let from_lease = (*amount).min(held.unwrap_or(0)).max(0);
            sqlx::query("UPDATE accounts SET balance_nano = balance_nano - ?, leased_nano = MAX(leased_nano - ?, 0) WHERE id = ?")
                .bind(amount)
                .bind(from_lease)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE balance_leases SET amount_nano = amount_nano - ? WHERE instance_id = ? AND account_id = ?")
                .bind(from_lease)
                .bind(&batch.instance_id)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES (?, ?, 'charge', ?, ?)")
                .bind(account)
                .bind(-amount)
                .bind(format!("usage of {requests} requests"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for ((key, period), amount) in &keys {
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT amount_nano FROM key_leases WHERE instance_id = ? AND key_id = ? AND period_start = ?",
            )
            .bind(&batch.instance_id)
            .bind(key)
            .bind(period)
            .fetch_optional(&mut *tx)
            .await?;
            let from_lease = (*amount).min(held.unwrap_or(0)).max(0);
            sqlx::query("INSERT INTO key_spend (key_id, period_start, spent_nano, leased_nano) VALUES (?, ?, ?, 0) ON CONFLICT(key_id, period_start) DO UPDATE SET spent_nano = key_spend.spent_nano + excluded.spent_nano, leased_nano = MAX(key_spend.leased_nano - ?, 0)")
                .bind(key)
                .bind(period)
                .bind(amount)
                .bind(from_lease)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE key_leases SET amount_nano = amount_nano - ? WHERE instance_id = ? AND key_id = ? AND period_start = ?")
                .bind(from_lease)
                .bind(&batch.instance_id)
                .bind(key)
                .bind(period)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        instance_id: &str,
        account_id: &str,
        want: i64,
        min: i64,
        ttl_ms: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT balance_nano, leased_nano FROM accounts WHERE id = ?")
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (balance, leased) = row.ok_or(StoreError::NotFound)?;
        let free = balance - leased;
        if free < min || want <= 0 {
            return Ok(0);
        }
        let grant = want.min(free);
        sqlx::query("UPDATE accounts SET leased_nano = leased_nano + ? WHERE id = ?")
            .bind(grant)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO balance_leases (instance_id, account_id, amount_nano, expires_at) VALUES (?, ?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?) ON CONFLICT(instance_id, account_id) DO UPDATE SET amount_nano = amount_nano + excluded.amount_nano, expires_at = excluded.expires_at")
            .bind(instance_id)
            .bind(account_id)
            .bind(grant)
            .bind(ttl_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(grant)
    }

    async fn release_lease(
        &self,
        instance_id: &str,
        account_id: &str,
        amount: i64,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT amount_nano FROM balance_leases WHERE instance_id = ? AND account_id = ?",
        )
        .bind(instance_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        let amount = amount.min(held.unwrap_or(0));
        if amount > 0 {
            sqlx::query("UPDATE accounts SET leased_nano = MAX(leased_nano - ?, 0) WHERE id = ?")
                .bind(amount)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE balance_leases SET amount_nano = amount_nano - ? WHERE instance_id = ? AND account_id = ?")
                .bind(amount)
                .bind(instance_id)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM balance_leases WHERE instance_id = ? AND account_id = ? AND amount_nano <= 0")
            .bind(instance_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn renew_leases(&self, instance_id: &str, ttl_ms: i64) -> StoreResult<Renewed> {
        // The database's clock decides expiry, so instances' clocks never disagree.
        let mut tx = self.write_tx().await?;
        let accounts: Vec<String> = sqlx::query_scalar("UPDATE balance_leases SET expires_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ? WHERE instance_id = ? RETURNING account_id")
            .bind(ttl_ms)
            .bind(instance_id)
            .fetch_all(&mut *tx)
            .await?;
        let keys: Vec<(String, i64)> = sqlx::query_as("UPDATE key_leases SET expires_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ? WHERE instance_id = ? RETURNING key_id, period_start")
            .bind(ttl_ms)
            .bind(instance_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Renewed { accounts, keys })
    }

    async fn reclaim_expired_leases(&self, grace_ms: i64) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let expired: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT instance_id, account_id, amount_nano FROM balance_leases WHERE expires_at + ? < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        )
        .bind(grace_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (instance, account, amount) in &expired {
            sqlx::query("UPDATE accounts SET leased_nano = MAX(leased_nano - ?, 0) WHERE id = ?")
                .bind(amount)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM balance_leases WHERE instance_id = ? AND account_id = ?")
                .bind(instance)
                .bind(account)
                .execute(&mut *tx)
                .await?;
        }
        let expired_keys: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT instance_id, key_id, period_start, amount_nano FROM key_leases WHERE expires_at + ? < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        )
        .bind(grace_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (instance, key, period, amount) in &expired_keys {
            sqlx::query("UPDATE key_spend SET leased_nano = MAX(leased_nano - ?, 0) WHERE key_id = ? AND period_start = ?")
                .bind(amount)
                .bind(key)
                .bind(period)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM key_leases WHERE instance_id = ? AND key_id = ? AND period_start = ?",
            )
            .bind(instance)
            .bind(key)
            .bind(period)
            .execute(&mut *tx)
            .await?;
        }
        // Retries come within minutes; a day of batch ids is plenty.
        sqlx::query("DELETE FROM settled_batches WHERE settled_at < ?")
            .bind(now_ms() - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((expired.len() + expired_keys.len()) as u64)
    }

    async fn acquire_key_lease(&self, instance_id: &str, grant: KeyGrant<'_>) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO key_spend (key_id, period_start, spent_nano, leased_nano) VALUES (?, ?, 0, 0) ON CONFLICT(key_id, period_start) DO NOTHING")
            .bind(grant.key_id)
            .bind(grant.period_start)
            .execute(&mut *tx)
            .await?;
        let (spent, leased): (i64, i64) = sqlx::query_as(
            "SELECT spent_nano, leased_nano FROM key_spend WHERE key_id = ? AND period_start = ?",
        )
        .bind(grant.key_id)
        .bind(grant.period_start)
        .fetch_one(&mut *tx)
        .await?;
        let free = grant.limit - spent - leased;
        if free < grant.min || grant.want <= 0 {
            return Ok(0);
        }
        let amount = grant.want.min(free);
        sqlx::query("UPDATE key_spend SET leased_nano = leased_nano + ? WHERE key_id = ? AND period_start = ?")
            .bind(amount)
            .bind(grant.key_id)
            .bind(grant.period_start)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO key_leases (instance_id, key_id, period_start, amount_nano, expires_at) VALUES (?, ?, ?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?) ON CONFLICT(instance_id, key_id, period_start) DO UPDATE SET amount_nano = key_leases.amount_nano + excluded.amount_nano, expires_at = excluded.expires_at")
            .bind(instance_id)
            .bind(grant.key_id)
            .bind(grant.period_start)
            .bind(amount)
            .bind(grant.ttl_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(amount)
    }

    async fn release_key_lease(
        &self,
        instance_id: &str,
        key_id: &str,
        period_start: i64,
        amount: i64,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT amount_nano FROM key_leases WHERE instance_id = ? AND key_id = ? AND period_start = ?",
        )
        .bind(instance_id)
        .bind(key_id)
        .bind(period_start)
        .fetch_optional(&mut *tx)
        .await?;
        let amount = amount.min(held.unwrap_or(0));
        if amount > 0 {
            sqlx::query("UPDATE key_spend SET leased_nano = MAX(leased_nano - ?, 0) WHERE key_id = ? AND period_start = ?")
                .bind(amount)
                .bind(key_id)
                .bind(period_start)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE key_leases SET amount_nano = amount_nano - ? WHERE instance_id = ? AND key_id = ? AND period_start = ?")
                .bind(amount)
                .bind(instance_id)
                .bind(key_id)
                .bind(period_start)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM key_leases WHERE instance_id = ? AND key_id = ? AND period_start = ? AND amount_nano <= 0")
            .bind(instance_id)
            .bind(key_id)
            .bind(period_start)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn key_spend(&self, key_id: &str, period_start: i64) -> StoreResult<i64> {
        let spent: Option<i64> = sqlx::query_scalar(
            "SELECT spent_nano FROM key_spend WHERE key_id = ? AND period_start = ?",
        )
        .bind(key_id)
        .bind(period_start)
        .fetch_optional(&self.pool)
        .await?;
        Ok(spent.unwrap_or(0))
    }

    async fn ledger_balance(&self, account_id: &str) -> StoreResult<i64> {
        let sum: Option<i64> =
            sqlx::query_scalar("SELECT SUM(amount_nano) FROM ledger WHERE account_id = ?")
                .bind(account_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(sum.unwrap_or(0))
    }

    async fn list_usage(&self, q: &UsageQuery) -> StoreResult<UsagePage> {
        let mut sql = String::from("SELECT * FROM usage_records WHERE 1 = 1");
        if q.account_id.is_some() {
            sql.push_str(" AND account_id = ?");
        }
        if q.key_id.is_some() {
            sql.push_str(" AND key_id = ?");
        }
        if q.model.is_some() {
            sql.push_str(" AND model = ?");
        }
        if q.from_ms.is_some() {
            sql.push_str(" AND created_at >= ?");
        }
        if q.to_ms.is_some() {
            sql.push_str(" AND created_at < ?");
        }
        if q.cursor.is_some() {
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND request_id < ?))");
        }
        sql.push_str(" ORDER BY created_at DESC, request_id DESC LIMIT ?");
        let mut query = sqlx::query(&sql);
        for v in [&q.account_id, &q.key_id, &q.model].into_iter().flatten() {
            query = query.bind(v);
        }
        for v in [q.from_ms, q.to_ms].into_iter().flatten() {
            query = query.bind(v);
        }
        if let Some((at, id)) = &q.cursor {
            query = query.bind(at).bind(at).bind(id);
        }
        let limit = q.limit.clamp(1, 1000);
        let rows = query
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let mut records = rows
            .iter()
            .map(usage_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let has_more = records.len() > limit as usize;
        records.truncate(limit as usize);
        Ok(UsagePage { records, has_more })
    }

    async fn insert_file(&self, f: &FileMeta) -> StoreResult<()> {
        sqlx::query("INSERT INTO files (id, account_id, filename, purpose, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&f.id)
            .bind(&f.account_id)
            .bind(&f.filename)
            .bind(&f.purpose)
            .bind(f.bytes)
            .bind(f.created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn get_file(&self, account_id: &str, id: &str) -> StoreResult<FileMeta> {
        let row = sqlx::query("SELECT * FROM files WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        file_from(&row)
    }

    async fn list_files(&self, account_id: &str) -> StoreResult<Vec<FileMeta>> {
        let rows = sqlx::query(
            "SELECT * FROM files WHERE account_id = ? ORDER BY created_at DESC, id DESC",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from).collect()
    }

    async fn delete_file(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM files WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn file_usage(&self, account_id: &str) -> StoreResult<crate::FileUsage> {
        let row =
            sqlx::query("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM files WHERE account_id = ?")
                .bind(account_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(crate::FileUsage {
            files: sqlx::Row::try_get(&row, 0)?,
            bytes: sqlx::Row::try_get(&row, 1)?,
        })
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
