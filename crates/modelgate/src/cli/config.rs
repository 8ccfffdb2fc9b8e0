//! Loading the config and catalog the way every command does.

use modelgate_core::catalog::{build_catalog, Catalog, BUILTIN_TOML, DEMO_TOML};
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
