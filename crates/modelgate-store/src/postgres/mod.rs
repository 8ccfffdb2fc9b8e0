//! PostgreSQL store, for several instances behind a load balancer (DESIGN §6):
//! migrations under an advisory lock, leases granted under row locks.

use crate::keys::{generate_key, random_id};
use crate::model::*;
use crate::{Store, StoreError, StoreResult};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

mod rows;

use rows::*;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_files.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_key_leases.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_settled_batches.sql"),
    ),
];

/// Any constant shared by every instance: the key of the migration advisory lock.
const MIGRATION_LOCK: i64 = 0x6d67_6d69_6772;

pub struct PostgresStore {
    pool: PgPool,
}

fn now_ms() -> i64 {
    modelgate_core::time_fmt::now_unix_ms()
}

impl PostgresStore {
    pub async fn open(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        // A BEGIN cancelled half-way (the client went away) would put the connection
        // back in its pool inside a transaction, failing every later write: begin in a
        // task of its own, which finishes however the caller ends (an unclaimed
        // transaction is then dropped there and rolled back).
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|e| StoreError::Invalid(format!("beginning a transaction failed: {e}")))?
            .map_err(StoreError::from)
    }

    async fn bump_version(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE change_version SET version = version + 1 WHERE id = 1")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    /// One transaction under an advisory lock, so instances starting together are
    /// safe (DESIGN §8): the first migrates, the others wait and find it done.
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        for (version, sql) in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            // One statement at a time: the migration files hold no ';' inside literals.
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
        sqlx::query("INSERT INTO accounts (id, name, balance_nano, allowed_models, rpm, tpm, max_concurrent, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
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
            sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES ($1, $2, 'credit', 'initial credits', $3)")
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
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1")
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
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT balance_nano, leased_nano FROM accounts WHERE id = $1 FOR UPDATE",
        )
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
        let balance: Option<i64> = sqlx::query_scalar("UPDATE accounts SET balance_nano = balance_nano + $1, updated_at = $2 WHERE id = $3 RETURNING balance_nano")
            .bind(amount_nano)
            .bind(now_ms())
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        let balance = balance.ok_or(StoreError::NotFound)?;
        sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES ($1, $2, 'credit', $3, $4)")
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
        sqlx::query("INSERT INTO api_keys (id, account_id, name, key_hash, prefix, allowed_models, rpm, tpm, max_concurrent, max_spend_nano, spend_period, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
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
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
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
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
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
        let rows = sqlx::query("SELECT * FROM api_keys WHERE account_id = $1 ORDER BY created_at")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from).collect()
    }

    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<(ApiKey, Account)>> {
        let Some(row) = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
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
            sqlx::query_scalar("SELECT settled_at FROM settled_batches WHERE id = $1")
                .bind(&batch.id)
                .fetch_optional(&mut *tx)
                .await?;
        if settled.is_some() {
            return Ok(());
        }
        sqlx::query("INSERT INTO settled_batches (id, settled_at) VALUES ($1, $2)")
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
                "SELECT amount_nano FROM balance_leases WHERE instance_id = $1 AND account_id = $2",
            )
            .bind(&batch.instance_id)
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
            let from_lease = (*amount).min(held.unwrap_or(0)).max(0);
            sqlx::query("UPDATE accounts SET balance_nano = balance_nano - $1, leased_nano = GREATEST(leased_nano - $2, 0) WHERE id = $3")
                .bind(amount)
                .bind(from_lease)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE balance_leases SET amount_nano = amount_nano - $1 WHERE instance_id = $2 AND account_id = $3")
                .bind(from_lease)
                .bind(&batch.instance_id)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO ledger (account_id, amount_nano, kind, note, created_at) VALUES ($1, $2, 'charge', $3, $4)")
                .bind(account)
                .bind(-amount)
                .bind(format!("usage of {requests} requests"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for ((key, period), amount) in &keys {
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT amount_nano FROM key_leases WHERE instance_id = $1 AND key_id = $2 AND period_start = $3",
            )
            .bind(&batch.instance_id)
            .bind(key)
            .bind(period)
            .fetch_optional(&mut *tx)
            .await?;
            let from_lease = (*amount).min(held.unwrap_or(0)).max(0);
            sqlx::query("INSERT INTO key_spend (key_id, period_start, spent_nano, leased_nano) VALUES ($1, $2, $3, 0) ON CONFLICT(key_id, period_start) DO UPDATE SET spent_nano = key_spend.spent_nano + excluded.spent_nano, leased_nano = GREATEST(key_spend.leased_nano - $4, 0)")
                .bind(key)
                .bind(period)
                .bind(amount)
                .bind(from_lease)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE key_leases SET amount_nano = amount_nano - $1 WHERE instance_id = $2 AND key_id = $3 AND period_start = $4")
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
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT balance_nano, leased_nano FROM accounts WHERE id = $1 FOR UPDATE",
        )
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (balance, leased) = row.ok_or(StoreError::NotFound)?;
        let free = balance - leased;
        if free < min || want <= 0 {
            return Ok(0);
        }
        let grant = want.min(free);
        sqlx::query("UPDATE accounts SET leased_nano = leased_nano + $1 WHERE id = $2")
            .bind(grant)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO balance_leases (instance_id, account_id, amount_nano, expires_at) VALUES ($1, $2, $3, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $4) ON CONFLICT(instance_id, account_id) DO UPDATE SET amount_nano = balance_leases.amount_nano + excluded.amount_nano, expires_at = excluded.expires_at")
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
            "SELECT amount_nano FROM balance_leases WHERE instance_id = $1 AND account_id = $2",
        )
        .bind(instance_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        let amount = amount.min(held.unwrap_or(0));
        if amount > 0 {
            sqlx::query(
                "UPDATE accounts SET leased_nano = GREATEST(leased_nano - $1, 0) WHERE id = $2",
            )
            .bind(amount)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE balance_leases SET amount_nano = amount_nano - $1 WHERE instance_id = $2 AND account_id = $3")
                .bind(amount)
                .bind(instance_id)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM balance_leases WHERE instance_id = $1 AND account_id = $2 AND amount_nano <= 0")
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
        let accounts: Vec<String> = sqlx::query_scalar("UPDATE balance_leases SET expires_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $1 WHERE instance_id = $2 RETURNING account_id")
            .bind(ttl_ms)
            .bind(instance_id)
            .fetch_all(&mut *tx)
            .await?;
        let keys: Vec<(String, i64)> = sqlx::query_as("UPDATE key_leases SET expires_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $1 WHERE instance_id = $2 RETURNING key_id, period_start")
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
            "SELECT instance_id, account_id, amount_nano FROM balance_leases WHERE expires_at + $1 < (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        )
        .bind(grace_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (instance, account, amount) in &expired {
            sqlx::query(
                "UPDATE accounts SET leased_nano = GREATEST(leased_nano - $1, 0) WHERE id = $2",
            )
            .bind(amount)
            .bind(account)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM balance_leases WHERE instance_id = $1 AND account_id = $2")
                .bind(instance)
                .bind(account)
                .execute(&mut *tx)
                .await?;
        }
        let expired_keys: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT instance_id, key_id, period_start, amount_nano FROM key_leases WHERE expires_at + $1 < (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        )
        .bind(grace_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (instance, key, period, amount) in &expired_keys {
            sqlx::query("UPDATE key_spend SET leased_nano = GREATEST(leased_nano - $1, 0) WHERE key_id = $2 AND period_start = $3")
                .bind(amount)
                .bind(key)
                .bind(period)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM key_leases WHERE instance_id = $1 AND key_id = $2 AND period_start = $3")
                .bind(instance)
                .bind(key)
                .bind(period)
                .execute(&mut *tx)
                .await?;
        }
        // Retries come within minutes; a day of batch ids is plenty.
        sqlx::query("DELETE FROM settled_batches WHERE settled_at < $1")
            .bind(now_ms() - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((expired.len() + expired_keys.len()) as u64)
    }

    async fn acquire_key_lease(&self, instance_id: &str, grant: KeyGrant<'_>) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO key_spend (key_id, period_start, spent_nano, leased_nano) VALUES ($1, $2, 0, 0) ON CONFLICT(key_id, period_start) DO NOTHING")
            .bind(grant.key_id)
            .bind(grant.period_start)
            .execute(&mut *tx)
            .await?;
        let (spent, leased): (i64, i64) = sqlx::query_as(
            "SELECT spent_nano, leased_nano FROM key_spend WHERE key_id = $1 AND period_start = $2 FOR UPDATE",
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
        sqlx::query("UPDATE key_spend SET leased_nano = leased_nano + $1 WHERE key_id = $2 AND period_start = $3")
            .bind(amount)
            .bind(grant.key_id)
            .bind(grant.period_start)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO key_leases (instance_id, key_id, period_start, amount_nano, expires_at) VALUES ($1, $2, $3, $4, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + $5) ON CONFLICT(instance_id, key_id, period_start) DO UPDATE SET amount_nano = key_leases.amount_nano + excluded.amount_nano, expires_at = excluded.expires_at")
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
            "SELECT amount_nano FROM key_leases WHERE instance_id = $1 AND key_id = $2 AND period_start = $3",
        )
        .bind(instance_id)
        .bind(key_id)
        .bind(period_start)
        .fetch_optional(&mut *tx)
        .await?;
        let amount = amount.min(held.unwrap_or(0));
        if amount > 0 {
            sqlx::query("UPDATE key_spend SET leased_nano = GREATEST(leased_nano - $1, 0) WHERE key_id = $2 AND period_start = $3")
                .bind(amount)
                .bind(key_id)
                .bind(period_start)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE key_leases SET amount_nano = amount_nano - $1 WHERE instance_id = $2 AND key_id = $3 AND period_start = $4")
                .bind(amount)
                .bind(instance_id)
                .bind(key_id)
                .bind(period_start)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM key_leases WHERE instance_id = $1 AND key_id = $2 AND period_start = $3 AND amount_nano <= 0")
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
            "SELECT spent_nano FROM key_spend WHERE key_id = $1 AND period_start = $2",
        )
        .bind(key_id)
        .bind(period_start)
        .fetch_optional(&self.pool)
        .await?;
        Ok(spent.unwrap_or(0))
    }

    async fn ledger_balance(&self, account_id: &str) -> StoreResult<i64> {
        let sum: Option<i64> =
            sqlx::query_scalar("SELECT SUM(amount_nano)::BIGINT FROM ledger WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(sum.unwrap_or(0))
    }

    async fn list_usage(&self, q: &UsageQuery) -> StoreResult<UsagePage> {
        let mut qb =
            sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT * FROM usage_records WHERE TRUE");
        if let Some(v) = &q.account_id {
            qb.push(" AND account_id = ").push_bind(v);
        }
        if let Some(v) = &q.key_id {
            qb.push(" AND key_id = ").push_bind(v);
        }
        if let Some(v) = &q.model {
            qb.push(" AND model = ").push_bind(v);
        }
        if let Some(v) = q.from_ms {
            qb.push(" AND created_at >= ").push_bind(v);
        }
        if let Some(v) = q.to_ms {
            qb.push(" AND created_at < ").push_bind(v);
        }
        if let Some((at, id)) = &q.cursor {
            qb.push(" AND (created_at < ").push_bind(*at);
            qb.push(" OR (created_at = ").push_bind(*at);
            qb.push(" AND request_id < ").push_bind(id).push("))");
        }
        let limit = q.limit.clamp(1, 1000);
        qb.push(" ORDER BY created_at DESC, request_id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut records = rows
            .iter()
            .map(usage_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let has_more = records.len() > limit as usize;
        records.truncate(limit as usize);
        Ok(UsagePage { records, has_more })
    }

    async fn insert_file(&self, f: &FileMeta) -> StoreResult<()> {
        sqlx::query("INSERT INTO files (id, account_id, filename, purpose, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&f.id)
            .bind(&f.account_id)
            .bind(&f.filename)
            .bind(&f.purpose)
            .bind(f.bytes)
            .bind(f.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_file(&self, account_id: &str, id: &str) -> StoreResult<FileMeta> {
        let row = sqlx::query("SELECT * FROM files WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        file_from(&row)
    }

    async fn list_files(&self, account_id: &str) -> StoreResult<Vec<FileMeta>> {
        let rows = sqlx::query(
            "SELECT * FROM files WHERE account_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from).collect()
    }

    async fn delete_file(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM files WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn file_usage(&self, account_id: &str) -> StoreResult<crate::FileUsage> {
        // SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0)::BIGINT FROM files WHERE account_id = $1",
        )
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
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
