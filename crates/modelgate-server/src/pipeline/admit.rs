//! Catalog and access checks that run before any upstream call.

use crate::auth::Authed;
use crate::state::AppState;
use modelgate_core::access::allowed;
use modelgate_core::catalog::{Operation, Resolved};
use modelgate_core::GatewayError;

pub fn admit(
    state: &AppState,
    authed: &Authed,
    requested: &str,
    op: Operation,
) -> Result<Resolved, GatewayError> {
    let resolved = state
        .catalog
        .resolve(requested, modelgate_core::time_fmt::today_utc())?;
    let model = &resolved.model;
    model.check_operation(op, state.docs_base_url())?;
    if !allowed(authed.account.allowed_models.as_deref(), &model.id) {
        return Err(GatewayError::Forbidden {
            model: model.id.clone(),
            by_key: false,
        });
    }
    if !allowed(authed.key.allowed_models.as_deref(), &model.id) {
        return Err(GatewayError::Forbidden {
            model: model.id.clone(),
            by_key: true,
        });
    }
    if !model.has_configured_route() {
        return Err(unconfigured(&resolved));
    }
    Ok(resolved)
}

/// 503 naming what the operator must set (DESIGN §3).
fn unconfigured(resolved: &Resolved) -> GatewayError {
    let vars: Vec<&str> = resolved
        .model
        .routes
        .iter()
        .filter_map(|r| r.provider.api_key_env.as_deref())
        .collect();
    let reason = if vars.is_empty() {
        "no provider is configured for this model (it has no route).".to_owned()
    } else {
        format!(
            "its provider is not configured on this gateway: the operator must set the environment variable {}.",
            vars.join(" or ")
        )
    };
    GatewayError::ProviderUnavailable {
        model: resolved.model.id.clone(),
        reason,
        retry_after: None,
    }
}
