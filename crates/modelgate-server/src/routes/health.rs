//! GET /healthz (the process answers) and GET /readyz (storage reachable).

use crate::error_response::error_response;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use modelgate_core::GatewayError;
use serde_json::json;

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            error_response(&GatewayError::NotReady {
                reason: "its storage is unreachable.".into(),
            })
        }
    }
}

/// GET /metrics: Prometheus text; the admin token is needed unless
/// `[server] public_metrics = true`.
pub async fn metrics(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    if !state.config.server.public_metrics {
        if let Err(e) = crate::auth::check_admin(&state, &headers, "/metrics") {
            return error_response(&e);
        }
    }
    match &state.metrics {
        Some(handle) => (
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => error_response(&GatewayError::internal("no metrics recorder is installed")),
    }
}
