//! Row mapping and batch statements of the PostgreSQL store.

use crate::model::*;
use crate::StoreResult;
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::collections::BTreeMap;

pub(super) fn json_list(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref().and_then(|l| serde_json::to_string(l).ok())
}

pub(super) fn parse_list(v: Option<String>) -> Option<Vec<String>> {
    v.and_then(|s| serde_json::from_str(&s).ok())
}

pub(super) fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

pub(super) fn opt_i64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn account_from(row: &PgRow) -> StoreResult<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        balance_nano: row.try_get("balance_nano")?,
        allowed_models: parse_list(row.try_get("allowed_models")?),
        limits: LimitsRow {
            rpm: opt_u64(row.try_get("rpm")?),
            tpm: opt_u64(row.try_get("tpm")?),
            max_concurrent: opt_u64(row.try_get("max_concurrent")?),
        },
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn key_from(row: &PgRow) -> StoreResult<ApiKey> {
    let period: String = row.try_get("spend_period")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        prefix: row.try_get("prefix")?,
        allowed_models: parse_list(row.try_get("allowed_models")?),
        limits: LimitsRow {
            rpm: opt_u64(row.try_get("rpm")?),
            tpm: opt_u64(row.try_get("tpm")?),
            max_concurrent: opt_u64(row.try_get("max_concurrent")?),
        },
        max_spend_nano: row.try_get("max_spend_nano")?,
        spend_period: SpendPeriod::parse(&period).unwrap_or_default(),
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn usage_from(row: &PgRow) -> StoreResult<UsageRecord> {
    let get_u64 = |name: &str| -> StoreResult<u64> {
        Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(UsageRecord {
        request_id: row.try_get("request_id")?,
        account_id: row.try_get("account_id")?,
        key_id: row.try_get("key_id")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        prompt_tokens: get_u64("prompt_tokens")?,
        completion_tokens: get_u64("completion_tokens")?,
        images: get_u64("images")?,
        cost_nano: row.try_get("cost_nano")?,
        status: u16::try_from(get_u64("status")?).unwrap_or(0),
        error_type: row.try_get("error_type")?,
        latency_ms: get_u64("latency_ms")?,
        attempts: u32::try_from(get_u64("attempts")?).unwrap_or(0),
        created_at: row.try_get("created_at")?,
    })
}

/// PostgreSQL allows 65,535 bound values per statement: 14 per record.
pub(super) const RECORDS_PER_INSERT: usize = 1_000;

pub(super) async fn insert_records(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    records: &[UsageRecord],
) -> StoreResult<()> {
    for chunk in records.chunks(RECORDS_PER_INSERT) {
        let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO usage_records (request_id, account_id, key_id, model, provider, prompt_tokens, completion_tokens, images, cost_nano, status, error_type, latency_ms, attempts, created_at) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(&r.request_id)
                .push_bind(&r.account_id)
                .push_bind(&r.key_id)
                .push_bind(&r.model)
                .push_bind(&r.provider)
                .push_bind(opt_i64(Some(r.prompt_tokens)))
                .push_bind(opt_i64(Some(r.completion_tokens)))
                .push_bind(opt_i64(Some(r.images)))
                .push_bind(r.cost_nano)
                .push_bind(i64::from(r.status))
                .push_bind(&r.error_type)
                .push_bind(opt_i64(Some(r.latency_ms)))
                .push_bind(i64::from(r.attempts))
                .push_bind(r.created_at);
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Charges summed per account and per key period: a batch moves money with a few
/// statements however many requests it holds; usage records keep the per-request cost.
/// Per account: (amount, requests).
pub(super) type AccountTotals<'a> = BTreeMap<&'a str, (i64, usize)>;
/// Per (key, period start): amount.
pub(super) type KeyTotals<'a> = BTreeMap<(&'a str, i64), i64>;

pub(super) fn aggregate(charges: &[Charge]) -> (AccountTotals<'_>, KeyTotals<'_>) {
    let mut accounts: BTreeMap<&str, (i64, usize)> = BTreeMap::new();
    let mut keys: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for c in charges {
        let a = accounts.entry(c.account_id.as_str()).or_default();
        a.0 += c.amount_nano;
        a.1 += 1;
        *keys
            .entry((c.key_id.as_str(), c.key_period_start))
            .or_default() += c.amount_nano;
    }
    (accounts, keys)
}

pub(super) fn file_from(row: &PgRow) -> StoreResult<FileMeta> {
    Ok(FileMeta {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        filename: row.try_get("filename")?,
        purpose: row.try_get("purpose")?,
        bytes: row.try_get("bytes")?,
        created_at: row.try_get("created_at")?,
    })
}
