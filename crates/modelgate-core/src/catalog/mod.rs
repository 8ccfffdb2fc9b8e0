//! The catalog: the built-in models and providers (`builtin.toml`, embedded), merged
//! with the config file by ID (DESIGN §3), validated, and indexed for the hot path.

mod build;
mod operation;

pub use build::build_catalog;
pub use operation::Operation;

use crate::config::ProviderKind;
use crate::error::{GatewayError, UnsupportedOperation};
use crate::model_id::{check_model_id, quoted, split_effort, ReasoningEffort, MAX_MODEL_ID_BYTES};
use crate::money::PerMillion;
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const BUILTIN_TOML: &str = include_str!("builtin.toml");
pub const DEMO_TOML: &str = include_str!("demo.toml");

#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub id: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key_env: Option<String>,
    /// The key read from `api_key_env` at start; `None` for keyless kinds.
    pub api_key: Option<Secret>,
    /// Unconfigured: `api_key_env` names a variable that is not set.
    pub configured: bool,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub total_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    pub input: PerMillion,
    pub output: PerMillion,
    pub cached_input: PerMillion,
    /// Per image: unlike the token prices, `per_image.0` is nano-USD for one image.
    pub per_image: PerMillion,
}

impl Pricing {
    pub fn images_cost(&self, images: u64) -> crate::money::NanoUsd {
        crate::money::NanoUsd(
            self.per_image
                .0
                .saturating_mul(i64::try_from(images).unwrap_or(i64::MAX)),
        )
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Stable index of this deployment in the catalog, used by the health tracker.
    pub deployment: usize,
    pub provider: Arc<ProviderSpec>,
    pub upstream_model: String,
    pub weight: u32,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    Active,
    /// Active, but a retirement date is ahead: answers carry Deprecation/Sunset.
    Deprecated {
        deprecated_on: time::Date,
        retired_on: time::Date,
    },
    Retired {
        retired_on: time::Date,
    },
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub operations: Vec<Operation>,
    pub context_window: u64,
    pub max_output_tokens: u64,
    pub pricing: Pricing,
    pub reasoning_efforts: Vec<ReasoningEffort>,
    pub max_reference_images: u32,
    pub aliases: Vec<String>,
    pub hints: HashMap<Operation, String>,
    pub docs_path: Option<String>,
    pub routes: Vec<Route>,
    /// `status = "retired"` in config: retired whatever the date.
    pub retired_by_status: bool,
    pub retired_on: Option<time::Date>,
    pub deprecated_on: Option<time::Date>,
    pub replacement: Option<String>,
}

impl Model {
    pub fn lifecycle(&self, today: time::Date) -> Lifecycle {
        match self.retired_on {
            Some(retired_on) if self.retired_by_status || retired_on <= today => {
                Lifecycle::Retired { retired_on }
            }
            Some(retired_on) => Lifecycle::Deprecated {
                deprecated_on: self
                    .deprecated_on
                    .unwrap_or(retired_on - time::Duration::days(90)),
                retired_on,
            },
            None if self.retired_by_status => Lifecycle::Retired { retired_on: today },
            None => Lifecycle::Active,
        }
    }

    /// Checks a reasoning effort (from the ID suffix or the body) against the model;
    /// the error names `param`, the field it came from.
    pub fn accept_effort(&self, text: &str, param: &str) -> Result<ReasoningEffort, GatewayError> {
        let parsed = ReasoningEffort::parse(text).filter(|e| self.reasoning_efforts.contains(e));
        if let Some(e) = parsed {
            return Ok(e);
        }
        // The text is the client's (body field or ID suffix): quote it bounded.
        let text = quoted(text);
        let msg = if self.reasoning_efforts.is_empty() {
            format!(
                "The model \"{}\" does not support reasoning efforts, so \"{text}\" in '{param}' is not allowed. Remove it.",
                self.id
            )
        } else {
            let list: Vec<_> = self.reasoning_efforts.iter().map(|e| e.as_str()).collect();
            format!(
                "The model \"{}\" does not support the reasoning effort \"{text}\" (in '{param}'). Use one of: {}.",
                self.id,
                list.join(", ")
            )
        };
        Err(GatewayError::invalid(msg, Some(param)))
    }

    pub fn supports(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// Served by at least one configured provider.
    pub fn has_configured_route(&self) -> bool {
        self.routes.iter().any(|r| r.provider.configured)
    }

    /// The 503 for a model no configured provider serves, naming the variables the
    /// operator must set (DESIGN §3); each named once, in route order.
    pub fn not_configured(&self) -> GatewayError {
        let mut env_vars: Vec<String> = Vec::new();
        for var in self
            .routes
            .iter()
            .filter_map(|r| r.provider.api_key_env.as_deref())
        {
            if !env_vars.iter().any(|v| v == var) {
                env_vars.push(var.to_owned());
            }
        }
        GatewayError::ProviderNotConfigured {
            model: self.id.clone(),
            env_vars,
        }
    }

    /// 400 `unsupported_operation` with every details field (DESIGN §2).
    pub fn check_operation(
        &self,
        op: Operation,
        docs_base_url: Option<&str>,
    ) -> Result<(), GatewayError> {
        if self.supports(op) {
            return Ok(());
        }
        let suggested = op
            .closest_alternative()
            .filter(|alt| self.supports(*alt))
            .or_else(|| self.operations.first().copied())
            .unwrap_or(op);
        let docs_url = match (docs_base_url, &self.docs_path) {
            (Some(base), Some(path)) => Some(format!(
                "{}/{}",
                base.trim_end_matches('/'),
                path.trim_start_matches('/')
            )),
            _ => None,
        };
        Err(GatewayError::UnsupportedOperation(Box::new(
            UnsupportedOperation {
                model: self.id.clone(),
                attempted_endpoint: op.endpoint().to_owned(),
                supported_endpoints: self
                    .operations
                    .iter()
                    .map(|o| o.endpoint().to_owned())
                    .collect(),
                suggested_endpoint: suggested.endpoint().to_owned(),
                hint: self.hints.get(&op).cloned(),
                docs_url,
            },
        )))
    }
}

/// A model request resolved against the catalog.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub model: Arc<Model>,
    pub effort: Option<ReasoningEffort>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    models: HashMap<String, Arc<Model>>,
    aliases: HashMap<String, String>,
    /// Model IDs in catalog order, for stable listings.
    order: Vec<String>,
    providers: HashMap<String, Arc<ProviderSpec>>,
    deployments: usize,
}

impl Catalog {
    pub fn models(&self) -> impl Iterator<Item = &Arc<Model>> {
        self.order.iter().filter_map(|id| self.models.get(id))
    }

    pub fn providers(&self) -> impl Iterator<Item = &Arc<ProviderSpec>> {
        self.providers.values()
    }

    /// Every deployment's index with a name stable across instances
    /// (`provider/upstream_model`), for sharing health.
    pub fn deployments(&self) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = self
            .models()
            .flat_map(|m| m.routes.iter())
            .map(|r| {
                (
                    r.deployment,
                    format!("{}/{}", r.provider.id, r.upstream_model),
                )
            })
            .collect();
        out.sort();
        out
    }

    pub fn deployment_count(&self) -> usize {
        self.deployments
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Model>> {
        self.models.get(id).or_else(|| {
            self.aliases
                .get(id)
                .and_then(|target| self.models.get(target))
        })
    }

    /// Resolves a requested ID (alias, effort suffix) to an active model: 400 for an
    /// over-long or control-character ID (before any lookup), 404 with suggestions,
    /// 410 for retired models, 400 for an effort the model lacks.
    pub fn resolve(&self, requested: &str, today: time::Date) -> Result<Resolved, GatewayError> {
        check_model_id(requested, "model")?;
        let (base, effort) = split_effort(requested);
        // `demo/think:ultra`: a known model with a suffix that is no effort is a 400
        // listing the model's efforts, not a 404 (the ID itself was right).
        let unknown_suffix = requested.rsplit_once(':').filter(|(b, _)| {
            effort.is_none() && self.get(requested).is_none() && self.get(b).is_some()
        });
        let (base, bad_suffix) = match unknown_suffix {
            Some((b, suffix)) => (b, Some(suffix)),
            None => (base, None),
        };
        let model = self.get(base).ok_or_else(|| GatewayError::ModelNotFound {
            // Bounded above, and quoted shorter still: a 404 never echoes much input.
            model: quoted(requested),
            suggestions: self.suggestions(base),
        })?;
        if let Lifecycle::Retired { retired_on } = model.lifecycle(today) {
            return Err(GatewayError::ModelRetired {
                model: model.id.clone(),
                replacement: model.replacement.clone(),
                retired_on: retired_on.to_string(),
            });
        }
        if let Some(suffix) = bad_suffix {
            model.accept_effort(suffix, "model")?;
        }
        if let Some(e) = effort {
            model.accept_effort(e.as_str(), "model")?;
        }
        Ok(Resolved {
            model: Arc::clone(model),
            effort,
        })
    }

    /// Close IDs for a 404: same model name under another provider first, then by
    /// edit similarity. Scoring costs input length times catalog size, so input over
    /// the model-ID bound gets none (`resolve` refuses it before this anyway).
    pub fn suggestions(&self, requested: &str) -> Vec<String> {
        if requested.len() > MAX_MODEL_ID_BYTES {
            return Vec::new();
        }
        let wanted = requested.to_ascii_lowercase();
        let tail = wanted.rsplit('/').next().unwrap_or(&wanted).to_owned();
        let mut scored: Vec<(f64, &String)> = self
            .order
            .iter()
            .filter_map(|id| {
                let id_tail = id.rsplit('/').next().unwrap_or(id);
                let score = if id_tail == tail {
                    2.0
                } else {
                    strsim::jaro_winkler(&wanted, id).max(strsim::jaro_winkler(&tail, id_tail))
                };
                (score >= 0.85).then_some((score, id))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(3)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
