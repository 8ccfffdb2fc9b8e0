//! `modelgate models`: the catalog as `serve` would build it from the same flags.

use super::config::load;
use modelgate_core::catalog::{Catalog, Lifecycle, Model, Operation};
use std::path::PathBuf;
use std::sync::Arc;

/// Lists the catalog; `demo` adds the models `serve --demo` adds. Without it, a note
/// on stderr names the demo models left out, so a user who runs `serve --demo` is not
/// left wondering where `demo/embed` went.
pub fn print_models(
    config: Option<PathBuf>,
    operation: Option<&str>,
    demo: bool,
) -> Result<(), String> {
    let op = operation
        .map(|o| Operation::parse(o).ok_or_else(|| format!("unknown operation \"{o}\"")))
        .transpose()?;
    let loaded = load(config.clone(), demo)?;
    let today = modelgate_core::time_fmt::today_utc();
    for m in matching(&loaded.catalog, op) {
        let status = match m.lifecycle(today) {
            Lifecycle::Retired { .. } => "retired",
            _ if m.has_configured_route() => "available",
            _ => "unconfigured",
        };
        let ops: Vec<_> = m.operations.iter().map(|o| o.as_str()).collect();
        println!("{:<40} {:<13} {}", m.id, status, ops.join(","));
    }
    if !demo {
        let with_demo = load(config, true)?;
        let left_out: Vec<String> = matching(&with_demo.catalog, op)
            .filter(|m| loaded.catalog.get(&m.id).is_none())
            .map(|m| m.id.clone())
            .collect();
        if !left_out.is_empty() {
            eprintln!(
                "note: `serve --demo` also serves {}; list them with `modelgate models --demo`",
                left_out.join(", ")
            );
        }
    }
    Ok(())
}

fn matching(catalog: &Catalog, op: Option<Operation>) -> impl Iterator<Item = &Arc<Model>> {
    catalog
        .models()
        .filter(move |m| op.is_none_or(|o| m.supports(o)))
}
