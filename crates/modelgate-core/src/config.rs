//! The config file of DESIGN §3: serde structs with defaults and `deny_unknown_fields`.
//! Loading reports problems as `FILE:LINE: field.path: problem`; the built-in catalog
//! and the file are merged into a `Catalog` by `catalog::Catalog::build`.

use crate::catalog::Operation;
use crate::model_id::ReasoningEffort;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

const MIB_20: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Default)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub rpm: u64,
    pub tpm: u64,
    pub max_concurrent: u64,
}

/// Uploads (`/v1/files`). The per-account bounds keep one client from filling the
/// disk; 0 means unlimited, as everywhere.
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    pub top_up_url: Option<String>,
    pub top_up_text: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Gemini,
    Mock,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelStatusEntry {
    Active,
    Retired,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PricingEntry {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
    pub per_image: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub provider: String,
    pub upstream_model: Option<String>,
    pub weight: Option<u32>,
    pub priority: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, Default)]
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

/// A parsed file plus its text, kept so that later validation can name lines.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    pub config: ConfigFile,
}

impl SourceFile {
    pub fn parse(name: &str, text: &str) -> Result<SourceFile, ConfigError> {
        let deserializer = toml::Deserializer::new(text);
        let config: ConfigFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = inner
                .span()
                .map(|s| line_of_offset(text, s.start))
                .unwrap_or(1);
            ConfigError {
                file: name.to_owned(),
                line,
                path: if path == "." { "(file)".into() } else { path },
                problem: inner.message().trim().to_owned(),
            }
        })?;
        Ok(SourceFile {
            name: name.to_owned(),
            text: text.to_owned(),
            config,
        })
    }

    pub fn read(path: &Path) -> Result<SourceFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            path: "(file)".into(),
            problem: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// An error about `[[table]]` number `index` (0-based), at the line of `key` in it.
    pub fn error_at(&self, table: &str, index: usize, key: &str, problem: String) -> ConfigError {
        ConfigError {
            file: self.name.clone(),
            line: locate_key(&self.text, table, index, key),
            path: format!("{table}[{index}].{key}"),
            problem,
        }
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

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Finds the line of `key` inside the `index`-th `[[table]]`, falling back to the
/// table's header line (or 1 when the table is not in the text at all).
fn locate_key(text: &str, table: &str, index: usize, key: &str) -> usize {
    let header = format!("[[{table}]]");
    let mut seen = 0usize;
    let mut header_line = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.starts_with('[') && !line.starts_with("[[") || line.starts_with("[[") {
            if header_line.is_some() {
                break;
            }
            if line.starts_with(&header) {
                if seen == index {
                    header_line = Some(n + 1);
                }
                seen += 1;
            }
            continue;
        }
        if header_line.is_some() {
            if let Some(rest) = line.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return n + 1;
                }
            }
        }
    }
    header_line.unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_names_path_and_line() {
        let text = "[server]\nlisten = \"x\"\n\n[[models]]\nid = \"a/b\"\ncontext_windw = 5\n";
        let err = SourceFile::parse("m.toml", text).unwrap_err();
        assert_eq!(err.file, "m.toml");
        assert_eq!(err.line, 6, "{err}");
        assert!(err.path.starts_with("models[0]"), "{err}");
        assert!(err.problem.contains("context_windw"), "{err}");
    }

    #[test]
    fn wrong_type_names_path_and_line() {
        let text = "[retry]\nmax_retries = \"three\"\n";
        let err = SourceFile::parse("m.toml", text).unwrap_err();
        assert_eq!(
            (err.line, err.path.as_str()),
            (2, "retry.max_retries"),
            "{err}"
        );
    }

    #[test]
    fn locates_keys_in_the_right_table() {
        let text = "[[models]]\nid = \"a\"\n[[models]]\nid = \"b\"\nreplacement = \"x\"\n";
        assert_eq!(locate_key(text, "models", 1, "replacement"), 5);
        assert_eq!(locate_key(text, "models", 0, "replacement"), 1);
    }
}
