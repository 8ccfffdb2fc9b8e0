//! Loading the config and catalog the way every command does.

use modelgate_core::catalog::{build_catalog, Catalog, Operation, BUILTIN_TOML, DEMO_TOML};
use modelgate_core::config::{default_config_path, ConfigFile, SourceFile};
use modelgate_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Loaded {
    pub file: ConfigFile,
    pub catalog: Catalog,
}

pub fn load(explicit: Option<PathBuf>, demo: bool) -> Result<Loaded, String> {
    let builtin = SourceFile::parse("builtin.toml", BUILTIN_TOML).map_err(|e| e.to_string())?;
    let demo_layer = SourceFile::parse("demo.toml", DEMO_TOML).map_err(|e| e.to_string())?;
    let file = match default_config_path(explicit) {
        Some(path) => Some(SourceFile::read(&path).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut layers: Vec<&SourceFile> = vec![&builtin];
    if demo {
        layers.push(&demo_layer);
    }
    if let Some(f) = &file {
        layers.push(f);
    }
    let catalog =
        build_catalog(&layers, &|var| std::env::var(var).ok()).map_err(|e| e.to_string())?;
    Ok(Loaded {
        file: file.map(|f| f.config).unwrap_or_default(),
        catalog,
    })
}

pub async fn open_store(config: &ConfigFile) -> Result<Arc<dyn Store>, String> {
    let url = &config.storage.database_url;
    let store = modelgate_store::open(url)
        .await
        .map_err(|e| format!("cannot open the database ({}): {e}", redact_url(url)))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migrating the database failed: {e}"))?;
    Ok(store)
}

/// Database URLs may carry passwords: never print them.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

pub fn print_models(config: Option<PathBuf>, operation: Option<&str>) -> Result<(), String> {
    let loaded = load(config, false)?;
    let op = operation
        .map(|o| Operation::parse(o).ok_or_else(|| format!("unknown operation \"{o}\"")))
        .transpose()?;
    let today = modelgate_core::time_fmt::today_utc();
    for m in loaded
        .catalog
        .models()
        .filter(|m| op.is_none_or(|o| m.supports(o)))
    {
        let status = match m.lifecycle(today) {
            modelgate_core::catalog::Lifecycle::Retired { .. } => "retired",
            _ if m.has_configured_route() => "available",
            _ => "unconfigured",
        };
        let ops: Vec<_> = m.operations.iter().map(|o| o.as_str()).collect();
        println!("{:<40} {:<13} {}", m.id, status, ops.join(","));
    }
    Ok(())
}
