//! Merging the built-in catalog, the demo layer and the config file by ID, then
//! validating the result (DESIGN §3: a file entry with a built-in ID changes only the
//! fields it sets; routes must name configured providers; replacements must exist).

use super::{Catalog, Model, Operation, Pricing, ProviderSpec, Route};
use crate::config::{
    ConfigError, ModelEntry, ModelStatusEntry, PricingEntry, ProviderEntry, ProviderKind,
    SourceFile,
};
use crate::money::PerMillion;
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Where an entry was last set, for error lines.
#[derive(Clone, Copy)]
struct Origin {
    layer: usize,
    index: usize,
}

/// Builds the catalog from layers in order (later layers override earlier ones);
/// `env` reads provider keys (injected so tests need no process environment).
pub fn build_catalog(
    layers: &[&SourceFile],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Catalog, ConfigError> {
    let mut providers: Vec<(ProviderEntry, Origin)> = Vec::new();
    let mut models: Vec<(ModelEntry, Origin)> = Vec::new();
    for (layer, file) in layers.iter().enumerate() {
        for (index, entry) in file.config.providers.iter().enumerate() {
            let origin = Origin { layer, index };
            match providers.iter_mut().find(|(p, _)| p.id == entry.id) {
                Some(slot) => *slot = (merge_provider(&slot.0, entry), origin),
                None => providers.push((entry.clone(), origin)),
            }
        }
        for (index, entry) in file.config.models.iter().enumerate() {
            let origin = Origin { layer, index };
            match models.iter_mut().find(|(m, _)| m.id == entry.id) {
                Some(slot) => *slot = (merge_model(&slot.0, entry), origin),
                None => models.push((entry.clone(), origin)),
            }
        }
    }
    let at = |o: Origin, table: &str, key: &str, problem: String| {
        layers[o.layer].error_at(table, o.index, key, problem)
    };

    let mut catalog = Catalog::default();
    for (entry, origin) in &providers {
        let spec = provider_spec(entry, env)
            .map_err(|(key, problem)| at(*origin, "providers", key, problem))?;
        catalog.providers.insert(spec.id.clone(), Arc::new(spec));
    }
    for (entry, origin) in &models {
        let model = model_from_entry(entry, &catalog.providers, &mut catalog.deployments)
            .map_err(|(key, problem)| at(*origin, "models", key, problem))?;
        catalog.order.push(model.id.clone());
        catalog.models.insert(model.id.clone(), Arc::new(model));
    }
    for (entry, origin) in &models {
        if let Some(rep) = &entry.replacement {
            if !catalog.models.contains_key(rep) {
                return Err(at(
                    *origin,
                    "models",
                    "replacement",
                    format!("\"{rep}\" is not a model in the catalog"),
                ));
            }
        }
        for alias in entry.aliases.iter().flatten() {
            if catalog.models.contains_key(alias) || catalog.aliases.contains_key(alias) {
                return Err(at(
                    *origin,
                    "models",
                    "aliases",
                    format!("alias \"{alias}\" is already a model ID or another model's alias"),
                ));
            }
            catalog.aliases.insert(alias.clone(), entry.id.clone());
        }
    }
    Ok(catalog)
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

type FieldError = (&'static str, String);

fn provider_spec(
    entry: &ProviderEntry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSpec, FieldError> {
    if entry.id.trim().is_empty() {
        return Err(("id", "must not be empty".into()));
    }
    let kind = entry.kind.ok_or((
        "kind",
        "is required: one of openai, anthropic, gemini, mock".to_owned(),
    ))?;
    let base_url = match (kind, &entry.base_url) {
        (ProviderKind::Mock, _) => String::new(),
        (_, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            url.trim_end_matches('/').to_owned()
        }
        (_, Some(_)) => return Err(("base_url", "must start with http:// or https://".into())),
        (_, None) => return Err(("base_url", "is required for this kind".into())),
    };
    let api_key = match (kind, &entry.api_key_env) {
        (ProviderKind::Mock, _) | (_, None) => None,
        (_, Some(var)) => env(var).filter(|v| !v.is_empty()).map(Secret::new),
    };
    let configured = kind == ProviderKind::Mock || entry.api_key_env.is_none() || api_key.is_some();
    Ok(ProviderSpec {
        id: entry.id.clone(),
        kind,
        base_url,
        api_key_env: entry.api_key_env.clone(),
        api_key,
        configured,
        connect_timeout: Duration::from_millis(entry.connect_timeout_ms.unwrap_or(3_000)),
        first_byte_timeout: Duration::from_millis(entry.first_byte_timeout_ms.unwrap_or(60_000)),
        total_timeout: Duration::from_millis(entry.total_timeout_ms.unwrap_or(600_000)),
    })
}

fn parse_date(text: &Option<String>, key: &'static str) -> Result<Option<time::Date>, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.as_deref()
        .map(|t| {
            time::Date::parse(t, &format)
                .map_err(|_| (key, format!("\"{t}\" is not a date in the form YYYY-MM-DD")))
        })
        .transpose()
}

fn price(value: Option<f64>, key: &'static str) -> Result<PerMillion, FieldError> {
    match value {
        None => Ok(PerMillion(0)),
        Some(v) if v >= 0.0 => PerMillion::from_usd(v).ok_or((key, "is out of range".into())),
        Some(_) => Err((key, "must not be negative".into())),
    }
}

fn model_from_entry(
    entry: &ModelEntry,
    providers: &HashMap<String, Arc<ProviderSpec>>,
    deployments: &mut usize,
) -> Result<Model, FieldError> {
    let Some((prefix, tail)) = entry
        .id
        .split_once('/')
        .filter(|(p, t)| !p.is_empty() && !t.is_empty())
    else {
        return Err((
            "id",
            format!(
                "\"{}\" is not a canonical ID of the form provider/model",
                entry.id
            ),
        ));
    };
    let retired_by_status = entry.status == Some(ModelStatusEntry::Retired);
    let retired_on = parse_date(&entry.retired_on, "retired_on")?;
    let deprecated_on = parse_date(&entry.deprecated_on, "deprecated_on")?;
    let operations = entry.operations.clone().unwrap_or_default();
    if operations.is_empty() && !retired_by_status {
        return Err((
            "operations",
            "an active model needs at least one operation".into(),
        ));
    }
    let context_window = match entry.context_window {
        Some(n) => n,
        None if retired_by_status => 0,
        None => return Err(("context_window", "is required for an active model".into())),
    };
    let chat = operations
        .iter()
        .any(|o| matches!(o, Operation::ChatCompletions | Operation::Responses));
    let max_output_tokens =
        entry
            .max_output_tokens
            .unwrap_or(if chat { context_window } else { 0 });
    let p = entry.pricing.clone().unwrap_or_default();
    let pricing = Pricing {
        input: price(p.input_per_mtok, "pricing")?,
        output: price(p.output_per_mtok, "pricing")?,
        cached_input: price(p.cached_input_per_mtok, "pricing")?,
        per_image: price(p.per_image, "pricing")?,
    };
    let route_entries = match &entry.routes {
        Some(r) => r.clone(),
        // A built-in model routes to the provider named by its ID's prefix (DESIGN §3).
        None if providers.contains_key(prefix) => vec![crate::config::RouteEntry {
            provider: prefix.to_owned(),
            upstream_model: None,
            weight: None,
            priority: None,
        }],
        None => Vec::new(),
    };
    let mut routes = Vec::with_capacity(route_entries.len());
    for r in route_entries {
        let provider = providers.get(&r.provider).ok_or((
            "routes",
            format!(
                "provider \"{}\" is not configured (add a [[providers]] entry)",
                r.provider
            ),
        ))?;
        routes.push(Route {
            deployment: *deployments,
            provider: Arc::clone(provider),
            upstream_model: r.upstream_model.unwrap_or_else(|| tail.to_owned()),
            weight: r.weight.unwrap_or(1).max(1),
            priority: r.priority.unwrap_or(0),
        });
        *deployments += 1;
    }
    Ok(Model {
        id: entry.id.clone(),
        name: entry.name.clone().unwrap_or_else(|| entry.id.clone()),
        operations,
        context_window,
        max_output_tokens,
        pricing,
        reasoning_efforts: entry.reasoning_efforts.clone().unwrap_or_default(),
        max_reference_images: entry.max_reference_images.unwrap_or(0),
        aliases: entry.aliases.clone().unwrap_or_default(),
        hints: entry
            .hints
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        docs_path: entry.docs_path.clone(),
        routes,
        retired_by_status,
        retired_on,
        deprecated_on,
        replacement: entry.replacement.clone(),
    })
}
