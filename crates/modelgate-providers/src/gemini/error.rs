//! Maps a Gemini error answer (`{"error": {"code", "message", "status", "details"}}`,
//! google.rpc.Status) into the contract (DESIGN §2). The gateway's own key failing
//! (Gemini answers 400 `API_KEY_INVALID`, not 401) is a 502, never the client's
//! fault; a too-long prompt is 413; quota exhausted for the day or for billing cools
//! the deployment down; a per-minute 429 is retried with Google's `RetryInfo` delay.

use crate::classify::{self, ErrorAnswer};
use crate::sanitize::{as_sentence, sanitize_reason};
use crate::UpstreamError;
use modelgate_core::GatewayError;
use serde_json::Value;
use std::time::Duration;

/// What the error body says, read leniently (a JSON array of one status, as
/// `streamGenerateContent` without `alt=sse` sends, is accepted too).
struct Status {
    message: String,
    /// The canonical code name (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …).
    status: String,
    /// `ErrorInfo.reason`s (`API_KEY_INVALID`, …).
    reasons: Vec<String>,
    /// `RetryInfo.retryDelay`.
    retry_delay: Option<Duration>,
    /// `QuotaFailure` violations name a per-day quota.
    daily_quota: bool,
}

impl Status {
    fn parse(body: &[u8]) -> Status {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let top = parsed.as_array().and_then(|a| a.first()).unwrap_or(&parsed);
        let err = top.get("error").unwrap_or(&Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let details = err
            .get("details")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let daily_quota = of_type(details, "QuotaFailure")
            .filter_map(|d| d.get("violations").and_then(Value::as_array))
            .flatten()
            .any(|v| {
                let id = format!("{}{}", text(v, "quotaId"), text(v, "quotaMetric"));
                id.contains("PerDay") || id.contains("per_day")
            });
        let reasons = of_type(details, "ErrorInfo")
            .map(|d| text(d, "reason"))
            .collect();
        let retry_delay = of_type(details, "RetryInfo").find_map(|d| {
            d.get("retryDelay")
                .and_then(Value::as_str)
                .and_then(parse_delay)
        });
        Status {
            message: text(err, "message"),
            status: text(err, "status"),
            reasons,
            retry_delay,
            daily_quota,
        }
    }

    fn key_invalid(&self) -> bool {
        self.reasons.iter().any(|r| r.starts_with("API_KEY_"))
            || self.message.contains("API key not valid")
            || self.message.contains("API key expired")
    }

    fn context_exceeded(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        m.contains("exceeds the maximum number of tokens")
            || (m.contains("token count") && m.contains("exceeds"))
            || m.contains("context window")
    }

    /// Exhausted for longer than a retry can wait: a per-day quota, depleted
    /// credits, or Google's "check your plan and billing details" without any
    /// retry hint (a per-minute limit always comes with `RetryInfo`).
    fn quota_exhausted(&self, retry_hint: bool) -> bool {
        let m = self.message.to_ascii_lowercase();
        let billing = m.contains("billing") || m.contains("check your plan");
        self.daily_quota
            || m.contains("per day")
            || m.contains("depleted")
            || (billing && !retry_hint)
    }
}

/// The `details` entries of one `@type` (`type.googleapis.com/google.rpc.<suffix>`).
fn of_type<'a>(details: &'a [Value], suffix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    details.iter().filter(move |d| {
        d.get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with(suffix))
    })
}

/// Gemini's own signals (a bad key as a 400, context length, `FAILED_PRECONDITION`,
/// exhausted quota in a 429, `RetryInfo`); every other status goes by the shared
/// table.
pub fn map_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    model: &str,
) -> UpstreamError {
    let s = Status::parse(body);
    let retry_after = retry_after.or(s.retry_delay);
    let reason = as_sentence(&sanitize_reason(&s.message));
    if s.key_invalid() {
        return classify::credentials_rejected(model);
    }
    match status {
        400 | 413 if s.context_exceeded() => classify::context_exceeded(model, reason),
        // Unsupported region, billing not enabled: this deployment's problem.
        400 if s.status == "FAILED_PRECONDITION" => {
            UpstreamError::fatal(GatewayError::ProviderError {
                model: model.to_owned(),
                reason: format!("the provider refused to serve this deployment: {reason}"),
            })
        }
        429 if s.quota_exhausted(retry_after.is_some()) => classify::account_exhausted(
            model,
            "the gateway's account at the provider has exhausted its quota.",
        ),
        _ => classify::by_status(ErrorAnswer {
            status,
            model,
            reason,
            param: None,
            retry_after,
        }),
    }
}

/// A protobuf Duration in JSON: `"2s"`, `"0.5s"`, `"39.838s"`.
fn parse_delay(text: &str) -> Option<Duration> {
    text.trim()
        .strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The HTTP status a `{"error": {"code": …}}` event in a 200 stream stands for.
pub fn event_status(error: &Value) -> u16 {
    error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(500)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `errors.json`: each case is a recorded Gemini error (status, optional
    /// Retry-After, body) and what the client must get.
    #[test]
    fn recorded_error_table() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/gemini/errors.json")).unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let about = case["about"].as_str().unwrap();
            let body = match &case["body"] {
                Value::String(raw) => raw.clone().into_bytes(),
                v => serde_json::to_vec(v).unwrap(),
            };
            let header = case["retry_after_header_secs"]
                .as_u64()
                .map(Duration::from_secs);
            let got = map_error(
                case["status"].as_u64().unwrap() as u16,
                &body,
                header,
                "google/gemini-2.5-flash",
            );
            let want = &case["want"];
            assert_eq!(
                got.error.status(),
                want["status"].as_u64().unwrap() as u16,
                "{about}"
            );
            assert_eq!(
                got.error.error_type(),
                want["type"].as_str().unwrap(),
                "{about}"
            );
            assert_eq!(
                got.retriable,
                want["retriable"].as_bool().unwrap(),
                "{about}"
            );
            assert_eq!(
                got.cool_down,
                want["cool_down"].as_bool().unwrap_or(false),
                "{about}"
            );
            if let Some(ms) = want["retry_after_ms"].as_u64() {
                assert_eq!(got.retry_after, Some(Duration::from_millis(ms)), "{about}");
            }
            let message = got.error.message();
            if let Some(part) = want["message_contains"].as_str() {
                assert!(message.contains(part), "{about}: {message}");
            }
            for leak in ["AIza", "http", "generativelanguage", "key="] {
                assert!(!message.contains(leak), "{about}: {leak} leaked: {message}");
            }
        }
    }

    #[test]
    fn a_402_cools_the_deployment_down() {
        let body = br#"{"error":{"code":402,"message":"Your prepayment credits are depleted.","status":"FAILED_PRECONDITION"}}"#;
        for body in [&body[..], b"", b"<html>"] {
            let got = map_error(402, body, None, "google/gemini-2.5-flash");
            assert_eq!(
                (got.error.status(), got.error.error_type()),
                (502, "provider_error")
            );
            assert!(got.cool_down && got.retriable);
        }
    }

    #[test]
    fn delays_and_event_codes() {
        assert_eq!(parse_delay("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_delay("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_delay("soon"), None);
        assert_eq!(event_status(&serde_json::json!({"code": 503})), 503);
        assert_eq!(event_status(&serde_json::json!({"message": "x"})), 500);
    }
}
