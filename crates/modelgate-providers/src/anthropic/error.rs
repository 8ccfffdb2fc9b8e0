//! Maps an Anthropic error answer (`{"type":"error","error":{"type","message"}}`, as
//! an HTTP error body or as a mid-stream `error` event) into the contract (DESIGN §2):
//! never passed through raw, never blaming the client's key for the gateway's own.

use super::wire::{ErrorBody, ErrorEnvelope};
use crate::classify::{self, ErrorAnswer};
use crate::sanitize::{as_sentence, sanitize_reason};
use crate::UpstreamError;
use std::time::Duration;

pub fn map_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    model: &str,
) -> UpstreamError {
    let err = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .unwrap_or_default();
    map_body(status, &err, retry_after, model)
}

/// An `error` event in a stream: the same body, without an HTTP status of its own.
pub fn stream_error(err: &ErrorBody, model: &str) -> UpstreamError {
    map_body(status_of_type(&err.kind), err, None, model)
}

/// The HTTP status Anthropic documents for each error type.
fn status_of_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// Anthropic's own signals (billing in a 400 or 429, context length in a 400,
/// `overloaded_error`); every other status goes by the shared table.
fn map_body(
    status: u16,
    err: &ErrorBody,
    retry_after: Option<Duration>,
    model: &str,
) -> UpstreamError {
    let reason = as_sentence(&sanitize_reason(&err.message));
    if is_billing(err) {
        // §2: exhausted credit or spend limit on the gateway's own account.
        return classify::account_exhausted(
            model,
            "the gateway's account at the provider is out of credit or reached its spend limit.",
        );
    }
    match status {
        400 | 413 if is_context(&err.message) => classify::context_exceeded(model, reason),
        408 | 409 | 500..=599 if err.kind == "overloaded_error" => {
            classify::transient(model, "the provider is overloaded.".into(), retry_after)
        }
        _ => classify::by_status(ErrorAnswer {
            status,
            model,
            reason,
            param: None,
            retry_after,
        }),
    }
}

/// Credit exhausted (400/402 "credit balance is too low", billing_error; a bare 402
/// is the shared table's), an
/// organization or workspace spend limit (400 "You have reached your specified …
/// API usage limits"), or the tier's monthly cap (429 with
/// `details.error_code = enforced_spend_limit_reached`, which no retry fixes).
fn is_billing(err: &ErrorBody) -> bool {
    let message = err.message.to_ascii_lowercase();
    let code = err
        .details
        .as_ref()
        .and_then(|d| d.get("error_code"))
        .and_then(|c| c.as_str());
    err.kind == "billing_error"
        || code == Some("enforced_spend_limit_reached")
        || message.contains("credit balance is too low")
        || message.contains("api usage limits")
}

/// "prompt is too long: 200001 tokens > 200000 maximum", "input length and
/// `max_tokens` exceed context limit: …".
fn is_context(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("prompt is too long")
        || m.contains("context window")
        || m.contains("context limit")
        || m.contains("context length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::retry_after;

    const MODEL: &str = "anthropic/claude-sonnet-4.5";

    /// (file, status, contract status, contract type, retriable, cool_down)
    const TABLE: &[(&str, u16, u16, &str, bool, bool)] = &[
        (
            "error_400_invalid.json",
            400,
            400,
            "invalid_request_error",
            false,
            false,
        ),
        (
            "error_400_prompt_too_long.json",
            400,
            413,
            "request_too_large",
            false,
            false,
        ),
        (
            "error_400_context_limit.json",
            400,
            413,
            "request_too_large",
            false,
            false,
        ),
        (
            "error_400_credit.json",
            400,
            502,
            "provider_error",
            true,
            true,
        ),
        (
            "error_400_spend_limit.json",
            400,
            502,
            "provider_error",
            true,
            true,
        ),
        ("error_401.json", 401, 502, "provider_error", false, false),
        (
            "error_402_billing.json",
            402,
            502,
            "provider_error",
            true,
            true,
        ),
        ("error_403.json", 403, 502, "provider_error", false, false),
        ("error_404.json", 404, 502, "provider_error", false, false),
        (
            "error_413.json",
            413,
            413,
            "request_too_large",
            false,
            false,
        ),
        (
            "error_429.json",
            429,
            429,
            "rate_limit_exceeded",
            true,
            false,
        ),
        (
            "error_429_spend_cap.json",
            429,
            502,
            "provider_error",
            true,
            true,
        ),
        ("error_500.json", 500, 502, "provider_error", true, false),
        ("error_529.json", 529, 502, "provider_error", true, false),
    ];

    fn fixture(name: &str) -> &'static str {
        match name {
            "error_400_invalid.json" => {
                include_str!("../../tests/fixtures/anthropic/error_400_invalid.json")
            }
            "error_400_prompt_too_long.json" => {
                include_str!("../../tests/fixtures/anthropic/error_400_prompt_too_long.json")
            }
            "error_400_context_limit.json" => {
                include_str!("../../tests/fixtures/anthropic/error_400_context_limit.json")
            }
            "error_400_credit.json" => {
                include_str!("../../tests/fixtures/anthropic/error_400_credit.json")
            }
            "error_400_spend_limit.json" => {
                include_str!("../../tests/fixtures/anthropic/error_400_spend_limit.json")
            }
            "error_401.json" => include_str!("../../tests/fixtures/anthropic/error_401.json"),
            "error_402_billing.json" => {
                include_str!("../../tests/fixtures/anthropic/error_402_billing.json")
            }
            "error_403.json" => include_str!("../../tests/fixtures/anthropic/error_403.json"),
            "error_404.json" => include_str!("../../tests/fixtures/anthropic/error_404.json"),
            "error_413.json" => include_str!("../../tests/fixtures/anthropic/error_413.json"),
            "error_429.json" => include_str!("../../tests/fixtures/anthropic/error_429.json"),
            "error_429_spend_cap.json" => {
                include_str!("../../tests/fixtures/anthropic/error_429_spend_cap.json")
            }
            "error_500.json" => include_str!("../../tests/fixtures/anthropic/error_500.json"),
            "error_529.json" => include_str!("../../tests/fixtures/anthropic/error_529.json"),
            other => panic!("no fixture {other}"),
        }
    }

    #[test]
    fn error_table() {
        for (file, status, want_status, want_type, retriable, cool_down) in TABLE {
            let mapped = map_error(*status, fixture(file).as_bytes(), None, MODEL);
            let e = &mapped.error;
            assert_eq!(
                (
                    e.status(),
                    e.error_type(),
                    mapped.retriable,
                    mapped.cool_down
                ),
                (*want_status, *want_type, *retriable, *cool_down),
                "{file}"
            );
            let msg = e.message();
            for leak in ["sk-ant-", "https://", "http://", "x-api-key: "] {
                assert!(!msg.contains(leak), "{file}: {msg}");
            }
        }
    }

    #[test]
    fn invalid_request_keeps_the_sanitised_reason() {
        let e = map_error(
            400,
            fixture("error_400_invalid.json").as_bytes(),
            None,
            MODEL,
        )
        .error;
        assert_eq!(
            e.message(),
            "The provider rejected the request: messages.1.content.0.tool_result: tool_use_id \
             not found; see [redacted]. Fix the request and retry."
        );
    }

    #[test]
    fn context_exceeded_names_the_model_and_reason() {
        let body = fixture("error_400_prompt_too_long.json").as_bytes();
        let e = map_error(400, body, None, MODEL).error;
        assert_eq!(
            e.message(),
            "The request exceeds the context window of \"anthropic/claude-sonnet-4.5\": prompt \
             is too long: 200001 tokens > 200000 maximum. Shorten the messages or lower max_tokens."
        );
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        let wait = retry_after(&headers);
        assert_eq!(wait, Some(Duration::from_secs(7)));
        let mapped = map_error(429, fixture("error_429.json").as_bytes(), wait, MODEL);
        assert_eq!(mapped.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(mapped.error.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn any_402_is_the_gateways_account_and_cools_down() {
        for body in [&b"<html>Payment Required</html>"[..], b"", b"{}"] {
            let mapped = map_error(402, body, None, MODEL);
            assert_eq!(
                (mapped.error.status(), mapped.retriable, mapped.cool_down),
                (502, true, true)
            );
        }
    }

    #[test]
    fn unparsable_bodies_map_by_status() {
        assert_eq!(map_error(503, b"<html>", None, MODEL).error.status(), 502);
        assert!(map_error(503, b"", None, MODEL).retriable);
        assert_eq!(map_error(422, b"{}", None, MODEL).error.status(), 400);
    }

    #[test]
    fn stream_error_events_map_by_type() {
        let body = |kind: &str| ErrorBody {
            kind: kind.into(),
            message: "Overloaded".into(),
            details: None,
        };
        let overloaded = stream_error(&body("overloaded_error"), MODEL);
        assert_eq!(
            (overloaded.error.status(), overloaded.retriable),
            (502, true)
        );
        assert_eq!(
            overloaded.error.message(),
            "The provider serving \"anthropic/claude-sonnet-4.5\" failed: the provider is \
             overloaded. This is often transient: retry."
        );
        let api = stream_error(&body("api_error"), MODEL);
        assert_eq!((api.error.status(), api.retriable), (502, true));
        let limited = stream_error(&body("rate_limit_error"), MODEL);
        assert_eq!((limited.error.status(), limited.retriable), (429, true));
        let unknown = stream_error(&body("something_new"), MODEL);
        assert_eq!((unknown.error.status(), unknown.retriable), (502, true));
    }
}
