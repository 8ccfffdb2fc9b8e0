//! The only `IntoResponse` for errors: the contract's body plus `x-should-retry`,
//! `Retry-After` (whole seconds, clamped 1-60) and the exact `retry-after-ms`.
//! Side-effect free: the error rides in the response extensions for the trace layer.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use modelgate_core::error::retry_after_secs;
use modelgate_core::GatewayError;
use std::sync::Arc;

/// Wrapper so handlers can `?` any `GatewayError` into a response.
#[derive(Debug)]
pub struct ApiError(pub GatewayError);

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        Self(e)
    }
}

/// What the trace layer and usage recording read back from an error response.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub error_type: &'static str,
    pub cause: Arc<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

pub fn error_response(err: &GatewayError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // USD amounts in details (402) as plain decimals, never `1e-6`.
    let body = modelgate_core::money::to_json_vec(&err.to_body()).unwrap_or_default();
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-should-retry",
        HeaderValue::from_static(if err.retriable() { "true" } else { "false" }),
    );
    if matches!(err.status(), 409 | 429 | 503) {
        if let Some(after) = err.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(after)),
            );
            headers.insert(
                "retry-after-ms",
                HeaderValue::from(after.as_millis().max(1) as u64),
            );
        }
    }
    resp.extensions_mut().insert(ErrorInfo {
        error_type: err.error_type(),
        cause: Arc::new(err.to_string()),
    });
    resp
}
