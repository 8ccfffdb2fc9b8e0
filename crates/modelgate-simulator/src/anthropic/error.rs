//! Anthropic error bodies: `{"type":"error","error":{"type","message"},"request_id"}`
//! with the error types the Messages API documents per status.

use serde_json::{json, Value};

use crate::errors::Failure;

pub(crate) fn body(kind: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": { "type": kind, "message": message },
        "request_id": "req_simulator"
    })
}

fn by_status(status: u16, model: &str) -> (&'static str, String) {
    let (kind, message) = match status {
        400 => ("invalid_request_error", "Invalid request (simulated)."),
        401 => ("authentication_error", "invalid x-api-key"),
        402 => (
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
        ),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => return ("not_found_error", format!("model: {model}")),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests per \
             minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
        ),
        500 => ("api_error", "Internal server error"),
        503 | 529 => ("overloaded_error", "Overloaded"),
        504 => ("timeout_error", "Request timed out"),
        s if s >= 500 => ("api_error", "Internal server error"),
        // Anthropic documents invalid_request_error for other 4xx statuses.
        _ => ("invalid_request_error", "Invalid request (simulated)."),
    };
    (kind, message.to_string())
}

/// The error for a `status`/`code` directive; a code becomes `error.type`, except
/// the portable codes, which map to Anthropic's own wording.
pub(crate) fn fault(f: &Failure<'_>) -> (u16, Value) {
    let known = match f.code {
        Some("context_length_exceeded") => Some((
            400,
            "invalid_request_error",
            "prompt is too long: 200001 tokens > 200000 maximum".to_string(),
        )),
        Some("insufficient_quota") => Some((
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & \
             Billing to upgrade or purchase credits."
                .to_string(),
        )),
        Some("invalid_api_key") => {
            Some((401, "authentication_error", "invalid x-api-key".to_string()))
        }
        Some("model_not_found") => Some((404, "not_found_error", format!("model: {}", f.model))),
        Some("rate_limit_exceeded") => Some((429, by_status(429, "").0, by_status(429, "").1)),
        _ => None,
    };
    if let Some((status, kind, message)) = known {
        return (f.status.unwrap_or(status), body(kind, &message));
    }
    let status = f.status.unwrap_or(400);
    let (kind, message) = by_status(status, f.model);
    (status, body(f.code.unwrap_or(kind), &message))
}
