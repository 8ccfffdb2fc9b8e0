//! Loading the config and catalog the way every command does.

use modelgate_core::catalog::Catalog;
use modelgate_core::config::{check, default_config_path, ConfigFile, SourceFile};
use modelgate_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Loaded {
    pub file: ConfigFile,
    pub catalog: Catalog,
}

/// Reads the config and builds the catalog through `config::check`, the one validation
/// `serve`, `check-config` and every other command share: a file one refuses, all
/// refuse, with the same lines (one `FILE:LINE: field.path: problem` per error).
pub fn load(explicit: Option<PathBuf>, demo: bool) -> Result<Loaded, String> {
    let file = default_config_path(explicit)
        .map(|path| SourceFile::read(&path))
        .transpose()?;
    let catalog = check(file.as_ref(), demo, &|var| std::env::var(var).ok()).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
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
