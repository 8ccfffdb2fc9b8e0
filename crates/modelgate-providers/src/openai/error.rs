//! Maps an OpenAI-compatible upstream's error answer into the contract (DESIGN §2):
//! never passed through raw, never blaming the client's key for the gateway's own.

use crate::sanitize::{as_sentence, sanitize_reason};
use crate::UpstreamError;
use modelgate_core::error::RateLimitScope;
use modelgate_core::GatewayError;
use serde_json::Value;
use std::time::Duration;

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
    let param = err.get("param").and_then(Value::as_str).map(str::to_owned);
    let reason = as_sentence(&sanitize_reason(&message));
    let model = model.to_owned();
    let context = code == "context_length_exceeded"
        || message.contains("maximum context length")
        || message.contains("context window");
    match status {
        400 | 413 | 422 if context => UpstreamError::fatal(GatewayError::UpstreamContextExceeded { model, reason }),
        413 => UpstreamError::fatal(GatewayError::UpstreamContextExceeded { model, reason }),
        401 | 403 => UpstreamError::fatal(GatewayError::ProviderError {
            model,
            reason: "the provider rejected the gateway's own credentials for this deployment (not your API key).".into(),
        }),
        404 => UpstreamError::fatal(GatewayError::ProviderError {
            model,
            reason: "the provider does not know this deployment's upstream model; the gateway's route is misconfigured.".into(),
        }),
        429 if code == "insufficient_quota" || kind == "insufficient_quota" => UpstreamError {
            error: GatewayError::ProviderError {
                model,
                reason: "the gateway's account at the provider has exhausted its quota.".into(),
            },
            retriable: true,
            retry_after: None,
            cool_down: true,
        },
        429 => UpstreamError {
            error: GatewayError::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                scope: RateLimitScope::Upstream,
            },
            retriable: true,
            retry_after,
            cool_down: false,
        },
        408 | 409 | 500..=599 => UpstreamError {
            error: GatewayError::ProviderError {
                model,
                reason: format!("the provider answered HTTP {status}."),
            },
            retriable: true,
            retry_after,
            cool_down: false,
        },
        _ => UpstreamError::fatal(GatewayError::invalid(
            format!("The provider rejected the request: {reason} Fix the request and retry."),
            param.as_deref(),
        )),
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
        assert!(map(429, "{}").retriable);
        assert!(!map(400, "{}").retriable);
    }
}
