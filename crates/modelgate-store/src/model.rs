//! Rows as the rest of the gateway sees them. Money in nano-USD, times in unix ms.

use serde::{Deserialize, Serialize};

/// Per-account or per-key limits; `None` inherits, 0 means unlimited (DESIGN §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsRow {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrent: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub balance_nano: i64,
    /// Glob patterns; `None` allows every model.
    pub allowed_models: Option<Vec<String>>,
    pub limits: LimitsRow,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SpendPeriod {
    #[default]
    Total,
    Day,
    Month,
}

impl SpendPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "total" => Some(Self::Total),
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub name: Option<String>,
    pub key_hash: String,
    pub prefix: String,
    pub allowed_models: Option<Vec<String>>,
    pub limits: LimitsRow,
    pub max_spend_nano: Option<i64>,
    pub spend_period: SpendPeriod,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub name: String,
    pub credits_nano: i64,
    pub allowed_models: Option<Vec<String>>,
    pub limits: LimitsRow,
}

#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: Option<String>,
    pub allowed_models: Option<Vec<String>>,
    pub limits: LimitsRow,
    pub max_spend_nano: Option<i64>,
    pub spend_period: SpendPeriod,
    pub expires_at: Option<i64>,
}

/// A freshly created key: the only time its plaintext exists outside the client.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub plaintext: String,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: i64,
    pub accounts: Vec<Account>,
    pub keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRecord {
    pub request_id: String,
    pub account_id: String,
    pub key_id: String,
    pub model: String,
    pub provider: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub images: u64,
    pub cost_nano: i64,
    pub status: u16,
    pub error_type: Option<String>,
    pub latency_ms: u64,
    pub attempts: u32,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    pub account_id: Option<String>,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: u32,
    /// Opaque cursor from a previous page: `created_at:request_id` of its last row.
    pub cursor: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct UsagePage {
    pub records: Vec<UsageRecord>,
    pub has_more: bool,
}

/// One request's charge, settled in the same transaction as its usage record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub account_id: String,
    pub key_id: String,
    pub request_id: String,
    pub amount_nano: i64,
    /// Start of the key's spend period (unix ms; 0 for lifetime limits).
    pub key_period_start: i64,
}

/// What the batched writer commits at once: usage records and the charges of the
/// instance's leases.
#[derive(Debug, Clone, Default)]
pub struct SettleBatch {
    /// Unique per batch and kept across its retries: the store writes a batch once.
    pub id: String,
    pub instance_id: String,
    pub records: Vec<UsageRecord>,
    pub charges: Vec<Charge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpend {
    pub period_start: i64,
    pub spent_nano: i64,
}

/// An uploaded file's metadata; the content lives under `[storage] files_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub id: String,
    pub account_id: String,
    pub filename: String,
    pub purpose: String,
    pub bytes: i64,
    pub created_at: i64,
}

/// What `renew_leases` found still held by the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewed {
    pub accounts: Vec<String>,
    /// (key id, period start)
    pub keys: Vec<(String, i64)>,
}

/// A request for a slice of a key's spend limit.
#[derive(Debug, Clone, Copy)]
pub struct KeyGrant<'a> {
    pub key_id: &'a str,
    pub period_start: i64,
    pub limit: i64,
    pub want: i64,
    pub min: i64,
    pub ttl_ms: i64,
}
