//! Gemini (Google API) error bodies: `{"error":{"code","message","status","details"}}`
//! with the canonical status names Google uses per HTTP status.

use serde_json::{json, Value};

use crate::errors::Failure;

pub(crate) fn body(code: u16, status: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message, "status": status } })
}

/// The real answer to a wrong or missing key: 400, not 401.
pub(crate) fn api_key_invalid() -> Value {
    let mut b = body(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    );
    b["error"]["details"] = json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": { "service": "generativelanguage.googleapis.com" }
    }]);
    b
}

fn by_status(status: u16, model: &str) -> (&'static str, String) {
    let (name, message) = match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => {
            return (
                "NOT_FOUND",
                format!(
                    "models/{model} is not found for API version v1beta, or is not supported \
                     for generateContent. Call ListModels to see the list of available models \
                     and their supported methods."
                ),
            )
        }
        409 => ("ABORTED", "The operation was aborted."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        500 => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        s if s >= 500 => ("UNKNOWN", "An unknown error occurred."),
        _ => ("FAILED_PRECONDITION", "Precondition check failed."),
    };
    (name, message.to_string())
}

pub(crate) fn fault(f: &Failure<'_>) -> (u16, Value) {
    if f.code == Some("API_KEY_INVALID") || f.code == Some("invalid_api_key") {
        let mut b = api_key_invalid();
        let status = f.status.unwrap_or(400);
        b["error"]["code"] = json!(status);
        return (status, b);
    }
    let (status, name, message) = match f.code {
        Some("context_length_exceeded") => (
            400,
            "INVALID_ARGUMENT",
            "The input token count (1048577) exceeds the maximum number of tokens allowed \
             (1048576)."
                .to_string(),
        ),
        Some("insufficient_quota" | "rate_limit_exceeded") => {
            let (n, m) = by_status(429, f.model);
            (429, n, m)
        }
        Some("model_not_found") => {
            let (n, m) = by_status(404, f.model);
            (404, n, m)
        }
        _ => {
            let status = f.status.unwrap_or(400);
            let (n, m) = by_status(status, f.model);
            (status, n, m)
        }
    };
    let status = f.status.unwrap_or(status);
    let known = matches!(
        f.code,
        Some(
            "context_length_exceeded"
                | "insufficient_quota"
                | "rate_limit_exceeded"
                | "model_not_found"
        )
    );
    let name = if known { name } else { f.code.unwrap_or(name) };
    let mut b = body(status, name, &message);
    if let (429, Some(secs)) = (status, f.retry_after) {
        // Google clients read the wait from RetryInfo rather than the header.
        b["error"]["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{}s", secs.ceil() as u64)
        }]);
    }
    (status, b)
}
