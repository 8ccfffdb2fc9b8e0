//! One merged `[[providers]]` or `[[models]]` entry into its catalog form, collecting
//! every problem as a path inside the entry.

use super::super::{Model, Operation, Pricing, ProviderSpec, Route};
use crate::config::{
    is_http_url, FieldPath, ModelEntry, ModelStatusEntry, ProviderEntry, ProviderKind, RouteEntry,
};
use crate::money::PerMillion;
use crate::secret::Secret;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A problem at `path` inside one entry.
pub struct Fault {
    pub path: FieldPath,
    pub text: String,
}

impl Fault {
    pub fn new(path: FieldPath, text: impl Into<String>) -> Fault {
        Fault {
            path,
            text: text.into(),
        }
    }
}

fn key(k: &str) -> FieldPath {
    FieldPath::default().key(k)
}

/// The providers routes may name: built, or already reported as broken.
pub struct Known<'a> {
    pub providers: &'a HashMap<String, Arc<ProviderSpec>>,
    pub broken: &'a HashSet<String>,
}

pub fn provider_spec(
    entry: &ProviderEntry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSpec, Vec<Fault>> {
    let mut faults = Vec::new();
    if entry.id.trim().is_empty() {
        faults.push(Fault::new(key("id"), "must not be empty"));
    }
    let kind = entry.kind.unwrap_or_else(|| {
        faults.push(Fault::new(
            key("kind"),
            "is required: one of openai, anthropic, gemini, mock",
        ));
        ProviderKind::Mock
    });
    let base_url = match (kind, &entry.base_url) {
        (ProviderKind::Mock, _) => String::new(),
        (_, Some(url)) if is_http_url(url) => url.trim_end_matches('/').to_owned(),
        (_, Some(url)) => {
            faults.push(Fault::new(
                key("base_url"),
                format!("\"{url}\" is not an http:// or https:// URL"),
            ));
            String::new()
        }
        (_, None) if entry.kind.is_some() => {
            faults.push(Fault::new(key("base_url"), "is required for this kind"));
            String::new()
        }
        (_, None) => String::new(),
    };
    if entry
        .api_key_env
        .as_deref()
        .is_some_and(|v| v.trim().is_empty())
    {
        faults.push(Fault::new(
            key("api_key_env"),
            "must name an environment variable (leave it out for a keyless server)",
        ));
    }
    let timeout = |name: &str, value: Option<u64>, default: u64, faults: &mut Vec<Fault>| {
        if value == Some(0) {
            faults.push(Fault::new(key(name), "must be greater than 0"));
        }
        Duration::from_millis(value.unwrap_or(default))
    };
    let connect_timeout = timeout(
        "connect_timeout_ms",
        entry.connect_timeout_ms,
        3_000,
        &mut faults,
    );
    let first_byte_timeout = timeout(
        "first_byte_timeout_ms",
        entry.first_byte_timeout_ms,
        60_000,
        &mut faults,
    );
    let total_timeout = timeout(
        "total_timeout_ms",
        entry.total_timeout_ms,
        600_000,
        &mut faults,
    );
    if !faults.is_empty() {
        return Err(faults);
    }
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
        connect_timeout,
        first_byte_timeout,
        total_timeout,
    })
}

fn parse_date(text: &Option<String>, name: &str, faults: &mut Vec<Fault>) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let t = text.as_deref()?;
    time::Date::parse(t, &format)
        .map_err(|_| {
            let problem = format!("\"{t}\" is not a date in the form YYYY-MM-DD");
            faults.push(Fault::new(key(name), problem));
        })
        .ok()
}

fn price(value: Option<f64>, name: &str, faults: &mut Vec<Fault>) -> PerMillion {
    let at = || FieldPath::default().key("pricing").key(name);
    match value {
        None => PerMillion(0),
        Some(v) if v >= 0.0 => PerMillion::from_usd(v).unwrap_or_else(|| {
            faults.push(Fault::new(at(), "is out of range"));
            PerMillion(0)
        }),
        Some(_) => {
            faults.push(Fault::new(at(), "must not be negative"));
            PerMillion(0)
        }
    }
}

/// The model of `entry`, or `None` with `faults` saying why.
pub fn model_from_entry(
    entry: &ModelEntry,
    known: &Known<'_>,
    deployments: &mut usize,
    faults: &mut Vec<Fault>,
) -> Option<Model> {
    let Some((prefix, tail)) = entry
        .id
        .split_once('/')
        .filter(|(p, t)| !p.is_empty() && !t.is_empty())
    else {
        let problem = format!(
            "\"{}\" is not a canonical ID of the form provider/model",
            entry.id
        );
        faults.push(Fault::new(key("id"), problem));
        return None;
    };
    let retired_by_status = entry.status == Some(ModelStatusEntry::Retired);
    let retired_on = parse_date(&entry.retired_on, "retired_on", faults);
    let deprecated_on = parse_date(&entry.deprecated_on, "deprecated_on", faults);
    if let (Some(d), Some(r)) = (deprecated_on, retired_on) {
        if d > r {
            faults.push(Fault::new(
                key("deprecated_on"),
                "must not be after retired_on",
            ));
        }
    }
    if entry.replacement.as_deref() == Some(entry.id.as_str()) {
        faults.push(Fault::new(key("replacement"), "must name another model"));
    }
    let operations = entry.operations.clone().unwrap_or_default();
    if operations.is_empty() && !retired_by_status {
        faults.push(Fault::new(
            key("operations"),
            "an active model needs at least one operation",
        ));
    }
    let (context_window, max_output_tokens) =
        token_limits(entry, &operations, retired_by_status, faults);
    let p = entry.pricing.clone().unwrap_or_default();
    let pricing = Pricing {
        input: price(p.input_per_mtok, "input_per_mtok", faults),
        output: price(p.output_per_mtok, "output_per_mtok", faults),
        cached_input: price(p.cached_input_per_mtok, "cached_input_per_mtok", faults),
        per_image: price(p.per_image, "per_image", faults),
    };
    let routes = routes(entry, prefix, tail, known, deployments, faults);
    Some(Model {
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

/// `context_window` and `max_output_tokens` belong to models that take text prompts;
/// an image-only model needs neither (DESIGN §3).
fn token_limits(
    entry: &ModelEntry,
    operations: &[Operation],
    retired: bool,
    faults: &mut Vec<Fault>,
) -> (u64, u64) {
    let text = operations.iter().any(|o| {
        matches!(
            o,
            Operation::ChatCompletions | Operation::Responses | Operation::Embeddings
        )
    });
    let context_window = match entry.context_window {
        Some(0) if text => {
            faults.push(Fault::new(key("context_window"), "must be greater than 0"));
            0
        }
        Some(n) => n,
        None if text && !retired => {
            faults.push(Fault::new(
                key("context_window"),
                "is required for a model that takes text prompts",
            ));
            0
        }
        None => 0,
    };
    let chat = operations
        .iter()
        .any(|o| matches!(o, Operation::ChatCompletions | Operation::Responses));
    let max_output_tokens = match entry.max_output_tokens {
        Some(0) if chat => {
            faults.push(Fault::new(
                key("max_output_tokens"),
                "must be greater than 0",
            ));
            0
        }
        Some(n) => n,
        None if chat => context_window,
        None => 0,
    };
    (context_window, max_output_tokens)
}

fn routes(
    entry: &ModelEntry,
    prefix: &str,
    tail: &str,
    known: &Known<'_>,
    deployments: &mut usize,
    faults: &mut Vec<Fault>,
) -> Vec<Route> {
    let entries = match &entry.routes {
        Some(r) => r.clone(),
        // A built-in model routes to the provider named by its ID's prefix (DESIGN §3).
        None if known.providers.contains_key(prefix) => vec![RouteEntry {
            provider: prefix.to_owned(),
            upstream_model: None,
            weight: None,
            priority: None,
        }],
        None => Vec::new(),
    };
    let mut routes = Vec::with_capacity(entries.len());
    for (n, r) in entries.into_iter().enumerate() {
        let at = |k: &str| FieldPath::default().key("routes").index(n).key(k);
        if r.weight == Some(0) {
            faults.push(Fault::new(at("weight"), "must be at least 1"));
        }
        if r.upstream_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            faults.push(Fault::new(at("upstream_model"), "must not be empty"));
        }
        let Some(provider) = known.providers.get(&r.provider) else {
            if !known.broken.contains(&r.provider) {
                let problem = format!(
                    "provider \"{}\" is not configured (add a [[providers]] entry)",
                    r.provider
                );
                faults.push(Fault::new(at("provider"), problem));
            }
            continue;
        };
        routes.push(Route {
            deployment: *deployments,
            provider: Arc::clone(provider),
            upstream_model: r.upstream_model.unwrap_or_else(|| tail.to_owned()),
            weight: r.weight.unwrap_or(1),
            priority: r.priority.unwrap_or(0),
        });
        *deployments += 1;
    }
    routes
}
