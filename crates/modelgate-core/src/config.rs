//! The config file of DESIGN §3: serde structs with defaults and `deny_unknown_fields`.
//! Loading reports every problem as `FILE:LINE: field.path: problem`; `check` runs all
//! of `serve`'s checks (sections, then the catalog merged from the built-in layers and
//! the file) for `serve` and `check-config` alike. docs/configuration.md documents
//! every field (a test keeps the two in step).

mod parse;
#[cfg(test)]
mod reference_doc;
mod source;
mod tree;
mod validate;

use crate::catalog::Operation;
use crate::model_id::ReasoningEffort;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use parse::Problem;
pub use source::{check, SourceFile};
pub use tree::{FieldPath, Seg};
pub use validate::check_listen;
pub(crate) use validate::is_http_url;

const MIB_20: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub admin: AdminConfig,
    pub retry: RetryConfig,
    pub health: HealthConfig,
    pub limits: LimitsConfig,
    pub idempotency: IdempotencyConfig,
    pub files: FilesConfig,
    pub fetch: FetchConfig,
    pub dashboard: DashboardConfig,
    pub providers: Vec<ProviderEntry>,
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub max_body_bytes: u64,
    pub docs_base_url: Option<String>,
    pub public_metrics: bool,
    /// A client gets this long to send its whole request body (slow clients must not
    /// hold a request open forever).
    pub body_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: MIB_20,
            docs_base_url: None,
            public_metrics: false,
            body_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub files_dir: String,
    /// Usage records waiting for the database (an outage) past which new billable
    /// requests are refused with 503 rather than served unbilled.
    pub max_unwritten_records: usize,
    /// How long a balance lease outlives its instance's last renewal (by the
    /// database's clock); an instance cut off from the database stops spending it
    /// before then.
    pub lease_ttl_ms: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/modelgate.db".into(),
            redis_url: None,
            redis_prefix: "modelgate:".into(),
            files_dir: "data/files".into(),
            max_unwritten_records: 100_000,
            lease_ttl_ms: 60_000,
        }
    }
}

/// Idempotency records kept in process (answers and keyed stream logs, 24 h).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// Their memory budget; over it the oldest finished records are evicted.
    pub max_bytes: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Name of the environment variable holding the admin token; the admin API is
    /// off while that variable is unset or empty.
    pub token_env: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token_env: "MODELGATE_ADMIN_TOKEN".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub max_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub stream_keepalive_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay_ms: 100,
            max_delay_ms: 5000,
            stream_keepalive_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    pub consecutive_failures: u32,
    pub cooldown_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            cooldown_ms: 30_000,
        }
    }
}

/// Rate limits; 0 means unlimited everywhere (DESIGN §3).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub rpm: u64,
    pub tpm: u64,
    pub max_concurrent: u64,
}

/// Uploads (`/v1/files`). The per-account bounds keep one client from filling the
/// disk; 0 means unlimited, as everywhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    pub max_bytes: u64,
    /// Bytes one account may keep stored, all its files together.
    pub max_account_bytes: u64,
    pub max_account_files: u64,
    /// Uploads per minute per account (GCRA, in-process).
    pub uploads_per_minute: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_bytes: MIB_20,
            max_account_bytes: 1024 * 1024 * 1024,
            max_account_files: 10_000,
            uploads_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    pub allow_private: bool,
    pub timeout_ms: u64,
    pub max_bytes: u64,
    /// All the images one request makes the gateway fetch, together.
    pub max_total_bytes: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_ms: 10_000,
            max_bytes: MIB_20,
            max_total_bytes: 50 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    pub top_up_url: Option<String>,
    pub top_up_text: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Gemini,
    Mock,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    pub id: String,
    pub kind: Option<ProviderKind>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelStatusEntry {
    Active,
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PricingEntry {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
    pub per_image: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub provider: String,
    pub upstream_model: Option<String>,
    pub weight: Option<u32>,
    pub priority: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<ModelStatusEntry>,
    pub retired_on: Option<String>,
    pub deprecated_on: Option<String>,
    pub replacement: Option<String>,
    pub operations: Option<Vec<Operation>>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub pricing: Option<PricingEntry>,
    pub reasoning_efforts: Option<Vec<ReasoningEffort>>,
    pub max_reference_images: Option<u32>,
    pub aliases: Option<Vec<String>>,
    pub hints: Option<BTreeMap<Operation, String>>,
    pub docs_path: Option<String>,
    pub routes: Option<Vec<RouteEntry>>,
}

/// A problem in a config file, printed as `FILE:LINE: field.path: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub path: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.path, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

/// The first of several (for callers that stop at one).
impl From<Vec<ConfigError>> for ConfigError {
    fn from(errors: Vec<ConfigError>) -> ConfigError {
        errors.into_iter().next().unwrap_or_else(|| ConfigError {
            file: "(config)".into(),
            line: 1,
            path: FieldPath::default().to_string(),
            problem: "invalid configuration".into(),
        })
    }
}

/// Which config file `serve` reads: `--config F`, else `modelgate.toml` in the working
/// directory when present, else none (the built-in defaults alone).
pub fn default_config_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| {
        let p = PathBuf::from("modelgate.toml");
        p.exists().then_some(p)
    })
}

#[cfg(test)]
mod tests;
