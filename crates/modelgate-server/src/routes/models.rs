//! GET /api/models (public catalog), GET /v1/models and /v1/models/{id} (what this
//! key may use, OpenAI's shape).

use crate::auth::Authed;
use crate::error_response::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use modelgate_core::catalog::{Lifecycle, Model, Operation, Resolved};
use modelgate_core::GatewayError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct CatalogQuery {
    operation: Option<String>,
}

fn catalog_entry(m: &Model, today: time::Date) -> Value {
    let lifecycle = m.lifecycle(today);
    let retired_on = match &lifecycle {
        Lifecycle::Retired { retired_on } | Lifecycle::Deprecated { retired_on, .. } => {
            Some(retired_on.to_string())
        }
        Lifecycle::Active => None,
    };
    let active = !matches!(lifecycle, Lifecycle::Retired { .. });
    let mut v = json!({
        "id": m.id,
        "name": m.name,
        "operations": m.operations.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "context_window": m.context_window,
        "max_output_tokens": m.max_output_tokens,
        "max_reference_images": m.max_reference_images,
        "pricing": {
            "input_per_mtok": m.pricing.input.usd(),
            "output_per_mtok": m.pricing.output.usd(),
            "per_image": m.pricing.per_image.usd(),
        },
        "reasoning_efforts": m.reasoning_efforts.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "status": if active { "active" } else { "retired" },
        "available": active && m.has_configured_route(),
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(d) = retired_on {
            obj.insert("retired_on".into(), json!(d));
        }
        if let Some(r) = &m.replacement {
            obj.insert("replacement".into(), json!(r));
        }
    }
    v
}

pub async fn catalog(
    State(state): State<AppState>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, ApiError> {
    let op = match q.operation.as_deref() {
        None | Some("") => None,
        Some(text) => Some(Operation::parse(text).ok_or_else(|| {
            let names: Vec<_> = Operation::ALL.iter().map(|o| o.as_str()).collect();
            GatewayError::invalid(
                format!(
                    "Unknown operation \"{}\". Use one of: {}.",
                    modelgate_core::model_id::quoted(text),
                    names.join(", ")
                ),
                Some("operation"),
            )
        })?),
    };
    let today = modelgate_core::time_fmt::today_utc();
    let data: Vec<Value> = state
        .catalog
        .models()
        .filter(|m| op.is_none_or(|o| m.supports(o)))
        .map(|m| catalog_entry(m, today))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})).into_response())
}

fn usable(m: &Arc<Model>, authed: &Authed, today: time::Date) -> bool {
    let resolved = Resolved {
        model: Arc::clone(m),
        effort: None,
    };
    !matches!(m.lifecycle(today), Lifecycle::Retired { .. })
        && crate::pipeline::admit::check_served(authed, &resolved).is_ok()
}

fn openai_entry(m: &Model) -> Value {
    json!({
        "id": m.id,
        "object": "model",
        "created": 0,
        "owned_by": m.id.split('/').next().unwrap_or(""),
    })
}

pub async fn list_for_key(State(state): State<AppState>, authed: Authed) -> Response {
    let today = modelgate_core::time_fmt::today_utc();
    let data: Vec<Value> = state
        .catalog
        .models()
        .filter(|m| usable(m, &authed, today))
        .map(|m| openai_entry(m))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn get_for_key(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let today = modelgate_core::time_fmt::today_utc();
    let resolved = state.catalog.resolve(&id, today)?;
    crate::pipeline::admit::check_served(&authed, &resolved)?;
    Ok(Json(openai_entry(&resolved.model)).into_response())
}
