//! The config file of DESIGN §3: serde structs with defaults and `deny_unknown_fields`.
//! Loading reports every problem as `FILE:LINE: field.path: problem`; `check` runs all
//! of `serve`'s checks (sections, then the catalog merged from the built-in layers and
//! the file) for `serve` and `check-config` alike. docs/configuration.md documents
//! every field (a test keeps the two in step).

mod parse;
#[cfg(test)]
mod reference_doc;
mod tree;
mod validate;

use crate::catalog::{build_catalog, Catalog, Operation, BUILTIN_TOML, DEMO_TOML};
use crate::model_id::ReasoningEffort;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use parse::Problem;
pub use tree::{FieldPath, Seg};
pub use validate::check_listen;

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

/// A parsed file: what could be read of it, where each value sits in the text, and
/// the problems found while reading it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    pub config: ConfigFile,
    tree: tree::Node,
    /// The file row of each entry kept in `config.providers` / `config.models` (an
    /// entry whose `id` cannot be read is left out).
    provider_rows: Vec<usize>,
    model_rows: Vec<usize>,
    problems: Vec<ConfigError>,
}

impl SourceFile {
    /// Reads `text` as far as it can; what it could not read is in `problems()`.
    pub fn load(name: &str, text: &str) -> SourceFile {
        let mut file = SourceFile {
            name: name.to_owned(),
            text: text.to_owned(),
            config: ConfigFile::default(),
            tree: tree::Node::default(),
            provider_rows: Vec::new(),
            model_rows: Vec::new(),
            problems: Vec::new(),
        };
        let parsed = toml::from_str::<tree::Node>(text)
            .and_then(|tree| Ok((tree, toml::from_str::<toml::Table>(text)?)));
        match parsed {
            Err(e) => file.problems.push(ConfigError {
                file: name.to_owned(),
                line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
                path: FieldPath::default().to_string(),
                // One line per error: "invalid array\nexpected `]`" -> "…: expected `]`".
                problem: e.message().trim().replace('\n', ": "),
            }),
            Ok((tree, table)) => {
                file.tree = tree;
                let read = parse::read_config(table);
                file.config = read.config;
                file.provider_rows = read.provider_rows;
                file.model_rows = read.model_rows;
                file.problems = read
                    .problems
                    .into_iter()
                    .map(|p| file.error(&p.path, p.text))
                    .collect();
            }
        }
        file
    }

    /// Like `load`, but any problem is an error (the first one).
    pub fn parse(name: &str, text: &str) -> Result<SourceFile, ConfigError> {
        let file = Self::load(name, text);
        match file.problems.first() {
            Some(e) => Err(e.clone()),
            None => Ok(file),
        }
    }

    /// Loads the file at `path`; fails only when it cannot be read at all.
    pub fn read(path: &Path) -> Result<SourceFile, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            // "No such file or directory (os error 2)": the code helps no reader.
            let reason = e.to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_owned();
            format!("cannot read {name}: {reason}")
        })?;
        Ok(Self::load(&name, &text))
    }

    /// What could not be read (each such value is left out of `config`).
    pub fn problems(&self) -> &[ConfigError] {
        &self.problems
    }

    /// An error at `path`, on the line of the deepest part of it the file holds.
    pub fn error(&self, path: &FieldPath, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.name.clone(),
            line: self
                .tree
                .offset_of(path)
                .map_or(1, |o| line_of_offset(&self.text, o)),
            path: path.to_string(),
            problem: problem.into(),
        }
    }

    /// Whether `[[table]]` entry `index` of `config` sets `sub` in this file itself.
    pub fn sets(&self, table: &str, index: usize, sub: &FieldPath) -> bool {
        self.tree.contains(&self.entry_path(table, index, sub))
    }

    /// An error about `[[table]]` entry `index` of `config`, at `sub` inside it.
    pub fn error_at(
        &self,
        table: &str,
        index: usize,
        sub: &FieldPath,
        problem: impl Into<String>,
    ) -> ConfigError {
        self.error(&self.entry_path(table, index, sub), problem)
    }

    fn entry_path(&self, table: &str, index: usize, sub: &FieldPath) -> FieldPath {
        let rows = match table {
            "providers" => &self.provider_rows,
            _ => &self.model_rows,
        };
        let row = rows.get(index).copied().unwrap_or(index);
        let mut path = FieldPath::default().key(table).index(row);
        path.0.extend(sub.0.iter().cloned());
        path
    }
}

/// Every check `serve` makes before it starts, and so `check-config`'s: what the file
/// could not read, its sections' values, then the catalog built from the built-in
/// layers (with the demo layer for `--demo`) and the file. Every error found, in
/// file and line order.
pub fn check(
    file: Option<&SourceFile>,
    demo: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Catalog, Vec<ConfigError>> {
    let builtin = SourceFile::load("builtin.toml", BUILTIN_TOML);
    let demo_layer = SourceFile::load("demo.toml", DEMO_TOML);
    let mut layers = vec![&builtin];
    if demo {
        layers.push(&demo_layer);
    }
    layers.extend(file);
    let mut errors: Vec<ConfigError> = layers
        .iter()
        .flat_map(|l| l.problems.iter().cloned())
        .collect();
    if let Some(f) = file {
        let found = validate::sections(&f.config);
        errors.extend(found.into_iter().map(|p| f.error(&p.path, p.text)));
    }
    match build_catalog::<Vec<ConfigError>>(&layers, env) {
        Ok(catalog) if errors.is_empty() => return Ok(catalog),
        Ok(_) => {}
        Err(found) => errors.extend(found),
    }
    Err(tidy(errors))
}

/// Drops an error about a field already reported (a value that could not be read is
/// not also "required"), then orders them by file and line.
fn tidy(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let mut kept: Vec<ConfigError> = Vec::new();
    for e in errors {
        let repeated = kept
            .iter()
            .any(|k| k.file == e.file && within(&e.path, &k.path));
        if !repeated {
            kept.push(e);
        }
    }
    kept.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    kept
}

fn within(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
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

    fn check_text(text: &str) -> Vec<String> {
        let file = SourceFile::load("m.toml", text);
        match check(Some(&file), false, &|_| None) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn every_mistake_is_reported_in_one_run() {
        let text = r#"[server]
listen = "not-an-address"
lisen = 1
max_body_bytes = 0

[storage]
database_url = "mysql://x"
redis_url = "https://cache"

[retry]
max_retries = "three"

[[providers]]
id = "local"
kind = "openia"
base_url = "http://127.0.0.1:1/v1"

[[models]]
id = "local/a"
operations = ["chat_completions"]
context_window = 10
routes = [
  { provider = "openai" },
  { provider = "ghost" },
]

[[models]]
id = "local/b"
status = "retired"
replacement = "local/none"
"#;
        let errors = check_text(text);
        let lines: Vec<&str> = errors
            .iter()
            .map(|e| e.split(": ").next().unwrap_or(""))
            .collect();
        let paths: Vec<&str> = errors
            .iter()
            .map(|e| e.split(": ").nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            lines,
            [
                "m.toml:2",
                "m.toml:3",
                "m.toml:4",
                "m.toml:7",
                "m.toml:8",
                "m.toml:11",
                "m.toml:15",
                "m.toml:24",
                "m.toml:30"
            ],
            "{errors:#?}"
        );
        assert_eq!(
            paths,
            [
                "server.listen",
                "server.lisen",
                "server.max_body_bytes",
                "storage.database_url",
                "storage.redis_url",
                "retry.max_retries",
                "providers[0].kind",
                "models[0].routes[1].provider",
                "models[1].replacement",
            ],
            "{errors:#?}"
        );
    }

    #[test]
    fn an_unreadable_entry_keeps_the_others_on_their_lines() {
        let text = "[[models]]\nid = 5\n\n[[models]]\nid = \"x/y\"\noperations = [\"chat_completions\"]\ncontext_window = 10\nroutes = [{ provider = \"ghost\" }]\n";
        let errors = check_text(text);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("m.toml:2: models[0].id: "),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("m.toml:8: models[1].routes[0].provider: "),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let errors = check_text("[server]\nlisten = \"a\"\nmax_body_bytes = = 3\n[retry]\n");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("m.toml:3: (file): "), "{errors:#?}");
        assert!(!errors[0].contains('\n'), "{errors:#?}");
    }

    #[test]
    fn defaults_and_an_empty_file_pass() {
        assert!(check_text("").is_empty());
    }
}
