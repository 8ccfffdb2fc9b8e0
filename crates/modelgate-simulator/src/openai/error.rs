//! OpenAI error bodies: `{"error": {"message", "type", "param", "code"}}` with the
//! messages, types and codes the real API uses.

use serde_json::{json, Value};

use crate::errors::Failure;

pub(crate) fn body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

struct Shape {
    status: u16,
    kind: &'static str,
    message: String,
    param: Option<&'static str>,
    code: Option<String>,
}

/// Codes with a well-known meaning; they imply a status when none is given.
fn known_code(code: &str, model: &str) -> Option<Shape> {
    let (status, kind, message, param) = match code {
        "context_length_exceeded" => (
            400,
            "invalid_request_error",
            "This model's maximum context length is 128000 tokens. However, your messages \
             resulted in 131072 tokens. Please reduce the length of the messages."
                .to_string(),
            Some("messages"),
        ),
        "insufficient_quota" => (
            429,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details. For \
             more information on this error, read the docs: \
             https://platform.openai.com/docs/guides/error-codes/api-errors."
                .to_string(),
            None,
        ),
        "invalid_api_key" => (401, "invalid_request_error", incorrect_key("sk-sim"), None),
        "model_not_found" => (404, "invalid_request_error", no_model(model), None),
        "rate_limit_exceeded" => (429, "requests", rate_limited(model), None),
        _ => return None,
    };
    Some(Shape {
        status,
        kind,
        message,
        param,
        code: Some(code.to_string()),
    })
}

fn by_status(status: u16, model: &str) -> Shape {
    let (kind, message, code) = match status {
        400 => (
            "invalid_request_error",
            "Invalid request (simulated).".to_string(),
            None,
        ),
        401 => (
            "invalid_request_error",
            incorrect_key("sk-sim"),
            Some("invalid_api_key"),
        ),
        // DeepSeek's answer when the account's balance is used up.
        402 => (
            "unknown_error",
            "Insufficient Balance".to_string(),
            Some("invalid_request_error"),
        ),
        403 => (
            "request_forbidden",
            "Country, region, or territory not supported".to_string(),
            Some("unsupported_country_region_territory"),
        ),
        404 => (
            "invalid_request_error",
            no_model(model),
            Some("model_not_found"),
        ),
        429 => ("requests", rate_limited(model), Some("rate_limit_exceeded")),
        500 => (
            "server_error",
            "The server had an error while processing your request. Sorry about that!".to_string(),
            None,
        ),
        502 => ("server_error", "Bad gateway.".to_string(), None),
        503 => (
            "server_error",
            "The engine is currently overloaded, please try again later.".to_string(),
            None,
        ),
        504 => ("server_error", "Request timed out.".to_string(), None),
        s if s >= 500 => ("server_error", format!("Simulated server error {s}."), None),
        s => (
            "invalid_request_error",
            format!("Simulated error {s}."),
            None,
        ),
    };
    Shape {
        status,
        kind,
        message,
        param: None,
        code: code.map(str::to_string),
    }
}

pub(crate) fn fault(f: &Failure<'_>) -> (u16, Value) {
    let shape = match f.code.and_then(|c| known_code(c, f.model)) {
        Some(mut known) => {
            known.status = f.status.unwrap_or(known.status);
            known
        }
        None => {
            let mut shape = by_status(f.status.unwrap_or(400), f.model);
            if let Some(code) = f.code {
                shape.code = Some(code.to_string());
            }
            shape
        }
    };
    let body = body(
        &shape.message,
        shape.kind,
        shape.param,
        shape.code.as_deref(),
    );
    (shape.status, body)
}

/// OpenAI shows the key's first 3 and last 4 characters.
pub(crate) fn incorrect_key(key: &str) -> String {
    let shown = if key.len() > 8 && key.is_ascii() {
        format!(
            "{}{}{}",
            &key[..3],
            "*".repeat(key.len() - 7),
            &key[key.len() - 4..]
        )
    } else {
        "*".repeat(key.chars().count().max(4))
    };
    format!(
        "Incorrect API key provided: {shown}. You can find your API key at \
         https://platform.openai.com/account/api-keys."
    )
}

fn no_model(model: &str) -> String {
    format!("The model `{model}` does not exist or you do not have access to it.")
}

fn rate_limited(model: &str) -> String {
    format!(
        "Rate limit reached for {model} in organization org-simulator on requests per min \
         (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit \
         https://platform.openai.com/account/rate-limits to learn more."
    )
}
