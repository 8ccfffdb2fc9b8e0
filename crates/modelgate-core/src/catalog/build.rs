//! Merging the built-in catalog, the demo layer and the config file by ID, then
//! validating the result (DESIGN §3: a file entry with a built-in ID changes only the
//! fields it sets; routes must name configured providers; replacements must exist).
//! Every problem is collected, each at the line of the field it is about.

mod entry;

use super::Catalog;
use crate::config::{ConfigError, FieldPath, ModelEntry, PricingEntry, ProviderEntry, SourceFile};
use entry::{model_from_entry, provider_spec, Fault, Known};
use std::collections::HashSet;
use std::sync::Arc;

/// Each (layer, index) that names an entry's ID, in layer order.
type Origins = Vec<(usize, usize)>;

/// Builds the catalog from layers in order (later layers override earlier ones);
/// `env` reads provider keys (injected so tests need no process environment). Every
/// problem is found; `E` is `Vec<ConfigError>` for all of them (`config::check`) or
/// `ConfigError` for the first.
pub fn build_catalog<E: From<Vec<ConfigError>>>(
    layers: &[&SourceFile],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Catalog, E> {
    let mut errors = Vec::new();
    let providers = merge(
        layers,
        "providers",
        |f| &f.config.providers,
        |e| &e.id,
        merge_provider,
        &mut errors,
    );
    let models = merge(
        layers,
        "models",
        |f| &f.config.models,
        |e| &e.id,
        merge_model,
        &mut errors,
    );
    let at = Locator(layers);
    let mut catalog = Catalog::default();
    let broken_providers = add_providers(&mut catalog, &providers, env, &at, &mut errors);
    let broken_models = add_models(&mut catalog, &models, &broken_providers, &at, &mut errors);
    for (entry, origins) in &models {
        for f in references(entry, &mut catalog, &broken_models) {
            errors.push(at.error(origins, "models", f));
        }
    }
    if errors.is_empty() {
        Ok(catalog)
    } else {
        Err(E::from(errors))
    }
}

/// Turns a fault inside a merged entry into an error at its file and line.
struct Locator<'a>(&'a [&'a SourceFile]);

impl Locator<'_> {
    fn error(&self, origins: &Origins, table: &str, f: Fault) -> ConfigError {
        // Name the layer that sets the field (a route list comes whole from one file),
        // else the last one naming the entry.
        let top = FieldPath(f.path.0.iter().take(1).cloned().collect());
        let (layer, index) = origins
            .iter()
            .rev()
            .find(|(l, i)| self.0[*l].sets(table, *i, &top))
            .or(origins.last())
            .copied()
            .unwrap_or((self.0.len().saturating_sub(1), 0));
        self.0[layer].error_at(table, index, &f.path, f.text)
    }
}

/// Adds the providers that build; returns the IDs of those that do not (already
/// reported, so routes naming them are not errors too).
fn add_providers(
    catalog: &mut Catalog,
    providers: &[(ProviderEntry, Origins)],
    env: &dyn Fn(&str) -> Option<String>,
    at: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
) -> HashSet<String> {
    let mut broken = HashSet::new();
    for (entry, origins) in providers {
        match provider_spec(entry, env) {
            Ok(spec) => {
                catalog.providers.insert(spec.id.clone(), Arc::new(spec));
            }
            Err(faults) => {
                broken.insert(entry.id.clone());
                errors.extend(
                    faults
                        .into_iter()
                        .map(|f| at.error(origins, "providers", f)),
                );
            }
        }
    }
    broken
}

/// Adds the models that build; returns the IDs of those that do not.
fn add_models(
    catalog: &mut Catalog,
    models: &[(ModelEntry, Origins)],
    broken_providers: &HashSet<String>,
    at: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
) -> HashSet<String> {
    let mut broken = HashSet::new();
    for (entry, origins) in models {
        let known = Known {
            providers: &catalog.providers,
            broken: broken_providers,
        };
        let mut faults = Vec::new();
        match model_from_entry(entry, &known, &mut catalog.deployments, &mut faults) {
            Some(model) if faults.is_empty() => {
                catalog.order.push(model.id.clone());
                catalog.models.insert(model.id.clone(), Arc::new(model));
            }
            _ => {
                broken.insert(entry.id.clone());
            }
        }
        errors.extend(faults.into_iter().map(|f| at.error(origins, "models", f)));
    }
    broken
}

/// Checks `replacement` and registers `aliases` (which must name nothing else).
fn references(entry: &ModelEntry, catalog: &mut Catalog, broken: &HashSet<String>) -> Vec<Fault> {
    let mut faults = Vec::new();
    if let Some(rep) = &entry.replacement {
        if !catalog.models.contains_key(rep) && !broken.contains(rep) {
            faults.push(Fault::new(
                FieldPath::default().key("replacement"),
                format!("\"{rep}\" is not a model in the catalog"),
            ));
        }
    }
    for (n, alias) in entry.aliases.iter().flatten().enumerate() {
        if catalog.models.contains_key(alias) || catalog.aliases.contains_key(alias) {
            faults.push(Fault::new(
                FieldPath::default().key("aliases").index(n),
                format!("alias \"{alias}\" is already a model ID or another model's alias"),
            ));
        } else {
            catalog.aliases.insert(alias.clone(), entry.id.clone());
        }
    }
    faults
}

/// Merges the entries of every layer by ID; the same ID twice in one file is an error
/// (the second would silently change the first).
fn merge<E: Clone>(
    layers: &[&SourceFile],
    table: &str,
    entries: fn(&SourceFile) -> &Vec<E>,
    id: fn(&E) -> &String,
    combine: fn(&E, &E) -> E,
    errors: &mut Vec<ConfigError>,
) -> Vec<(E, Origins)> {
    let mut out: Vec<(E, Origins)> = Vec::new();
    for (layer, file) in layers.iter().enumerate() {
        for (index, entry) in entries(file).iter().enumerate() {
            match out.iter_mut().find(|(e, _)| id(e) == id(entry)) {
                Some((merged, origins)) => {
                    if let Some(&(_, first)) = origins.iter().find(|(l, _)| *l == layer) {
                        let id_path = FieldPath::default().key("id");
                        let line = file.error_at(table, first, &id_path, "").line;
                        errors.push(file.error_at(
                            table,
                            index,
                            &id_path,
                            format!(
                                "\"{}\" is already defined on line {line}: keep one entry",
                                id(entry)
                            ),
                        ));
                    }
                    *merged = combine(merged, entry);
                    origins.push((layer, index));
                }
                None => out.push((entry.clone(), vec![(layer, index)])),
            }
        }
    }
    out
}

fn merge_provider(base: &ProviderEntry, over: &ProviderEntry) -> ProviderEntry {
    ProviderEntry {
        id: base.id.clone(),
        kind: over.kind.or(base.kind),
        base_url: over.base_url.clone().or_else(|| base.base_url.clone()),
        api_key_env: over
            .api_key_env
            .clone()
            .or_else(|| base.api_key_env.clone()),
        connect_timeout_ms: over.connect_timeout_ms.or(base.connect_timeout_ms),
        first_byte_timeout_ms: over.first_byte_timeout_ms.or(base.first_byte_timeout_ms),
        total_timeout_ms: over.total_timeout_ms.or(base.total_timeout_ms),
    }
}

fn merge_model(base: &ModelEntry, over: &ModelEntry) -> ModelEntry {
    let pricing = match (&base.pricing, &over.pricing) {
        (Some(b), Some(o)) => Some(PricingEntry {
            input_per_mtok: o.input_per_mtok.or(b.input_per_mtok),
            output_per_mtok: o.output_per_mtok.or(b.output_per_mtok),
            cached_input_per_mtok: o.cached_input_per_mtok.or(b.cached_input_per_mtok),
            per_image: o.per_image.or(b.per_image),
        }),
        (b, o) => o.clone().or_else(|| b.clone()),
    };
    macro_rules! pick {
        ($f:ident) => {
            over.$f.clone().or_else(|| base.$f.clone())
        };
    }
    ModelEntry {
        id: base.id.clone(),
        name: pick!(name),
        status: pick!(status),
        retired_on: pick!(retired_on),
        deprecated_on: pick!(deprecated_on),
        replacement: pick!(replacement),
        operations: pick!(operations),
        context_window: pick!(context_window),
        max_output_tokens: pick!(max_output_tokens),
        pricing,
        reasoning_efforts: pick!(reasoning_efforts),
        max_reference_images: pick!(max_reference_images),
        aliases: pick!(aliases),
        hints: pick!(hints),
        docs_path: pick!(docs_path),
        routes: pick!(routes),
    }
}
