//! Maps an OpenAI-compatible upstream's error answer into the contract (DESIGN §2):
//! never passed through raw, never blaming the client's key for the gateway's own.

use crate::classify::{self, ErrorAnswer};
use crate::sanitize::{as_sentence, sanitize_reason};
use crate::UpstreamError;
use serde_json::Value;
use std::time::Duration;

/// OpenAI's own signals (context length in a 400/422, `insufficient_quota` in a
/// 429); every other status goes by the shared table.
pub fn map_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    model: &str,
) -> UpstreamError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = parsed.get("error").unwrap_or(&parsed);
    let text = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (message, code, kind) = (text("message"), text("code"), text("type"));
    let param = err.get("param").and_then(Value::as_str);
    let reason = as_sentence(&sanitize_reason(&message));
    let context = code == "context_length_exceeded"
        || message.contains("maximum context length")
        || message.contains("context window");
    match status {
        400 | 413 | 422 if context => classify::context_exceeded(model, reason),
        429 if code == "insufficient_quota" || kind == "insufficient_quota" => {
            classify::account_exhausted(
                model,
                "the gateway's account at the provider has exhausted its quota.",
            )
        }
        _ => classify::by_status(ErrorAnswer {
            status,
            model,
            reason,
            param,
            retry_after,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> UpstreamError {
        map_error(status, body.as_bytes(), None, "openai/gpt-4o")
    }

    #[test]
    fn table() {
        let cases: &[(u16, &str, u16, &str)] = &[
            (
                400,
                r#"{"error":{"message":"This model's maximum context length is 8 tokens","code":"context_length_exceeded"}}"#,
                413,
                "request_too_large",
            ),
            (
                400,
                r#"{"error":{"message":"bad temperature","param":"temperature"}}"#,
                400,
                "invalid_request_error",
            ),
            (
                401,
                r#"{"error":{"message":"Incorrect API key provided: sk-secret123","code":"invalid_api_key"}}"#,
                502,
                "provider_error",
            ),
            (
                404,
                r#"{"error":{"message":"The model x does not exist"}}"#,
                502,
                "provider_error",
            ),
            (
                429,
                r#"{"error":{"message":"quota","code":"insufficient_quota"}}"#,
                502,
                "provider_error",
            ),
            (
                429,
                r#"{"error":{"message":"slow down"}}"#,
                429,
                "rate_limit_exceeded",
            ),
            (500, "not json", 502, "provider_error"),
            (503, "{}", 502, "provider_error"),
        ];
        for (status, body, want_status, want_type) in cases {
            let e = map(*status, body).error;
            assert_eq!(
                (e.status(), e.error_type()),
                (*want_status, *want_type),
                "{status} {body}"
            );
            assert!(!e.message().contains("sk-secret"), "{}", e.message());
        }
    }

    #[test]
    fn quota_cools_down_and_rate_limit_retries() {
        assert!(map(429, r#"{"error":{"code":"insufficient_quota"}}"#).cool_down);
        // DeepSeek (OpenAI-compatible): the gateway's account is out of money.
        let broke = map(
            402,
            r#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#,
        );
        assert_eq!(
            (broke.error.status(), broke.error.error_type()),
            (502, "provider_error")
        );
        assert!(broke.cool_down && broke.retriable);
        assert!(!broke.error.message().contains("Fix the request"));
        assert!(map(429, "{}").retriable);
        assert!(!map(400, "{}").retriable);
    }
}
