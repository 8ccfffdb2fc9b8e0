//! What an upstream HTTP error status means, shared by every kind (DESIGN §2): the
//! contract error the client gets, whether another attempt may help, and whether the
//! deployment cools down. Each kind's `error.rs` handles only what its provider
//! signals specially (context length, quota codes, key errors inside a 400) and
//! defers everything else to [`by_status`].

use crate::UpstreamError;
use modelgate_core::error::RateLimitScope;
use modelgate_core::GatewayError;
use std::time::Duration;

/// An upstream error answer, already read and sanitised by the kind.
pub struct ErrorAnswer<'a> {
    pub status: u16,
    pub model: &'a str,
    /// The upstream's own reason, sanitised, as a sentence.
    pub reason: String,
    /// The request field the upstream blamed, where it says.
    pub param: Option<&'a str>,
    pub retry_after: Option<Duration>,
}

/// The shared table; a kind calls it for every status it has nothing special about.
pub fn by_status(answer: ErrorAnswer<'_>) -> UpstreamError {
    let ErrorAnswer {
        status,
        model,
        reason,
        param,
        retry_after,
    } = answer;
    match status {
        300..=399 => redirected(model),
        401 | 403 => credentials_rejected(model),
        // DeepSeek's "Insufficient Balance" and the like: the gateway's own account.
        402 => account_exhausted(
            model,
            "the gateway's account at the provider is out of credit.",
        ),
        404 => UpstreamError::fatal(GatewayError::ProviderError {
            model: model.to_owned(),
            reason: "the provider does not know this deployment's upstream model; the gateway's route is misconfigured.".into(),
        }),
        413 => context_exceeded(model, reason),
        429 => UpstreamError {
            error: GatewayError::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                scope: RateLimitScope::Upstream,
            },
            retriable: true,
            retry_after,
            cool_down: false,
            reported_prompt_tokens: None,
        },
        408 | 409 | 499 | 500..=599 => transient(
            model,
            format!("the provider answered HTTP {status}."),
            retry_after,
        ),
        _ => UpstreamError::fatal(GatewayError::invalid(
            format!("The provider rejected the request: {reason} Fix the request and retry."),
            param,
        )),
    }
}

/// A 3xx: the deployment's base URL is wrong (or the provider moved). Never followed
/// (the provider key would go to the named host) and not retried: another attempt
/// at the same URL gets the same redirect.
pub fn redirected(model: &str) -> UpstreamError {
    UpstreamError::fatal(GatewayError::ProviderError {
        model: model.to_owned(),
        reason: "the provider answered with a redirect, which the gateway does not follow with its credentials; the deployment's base URL is misconfigured.".into(),
    })
}

pub fn credentials_rejected(model: &str) -> UpstreamError {
    UpstreamError::fatal(GatewayError::ProviderError {
        model: model.to_owned(),
        reason: "the provider rejected the gateway's own credentials for this deployment (not your API key).".into(),
    })
}

/// Quota, credit or spend limit of the gateway's own provider account exhausted: 502,
/// and the deployment cools down at once; another deployment may still answer, so
/// the attempt counts as retriable (the cooled-down one is not picked again).
pub fn account_exhausted(model: &str, reason: &str) -> UpstreamError {
    UpstreamError {
        error: GatewayError::ProviderError {
            model: model.to_owned(),
            reason: reason.to_owned(),
        },
        retriable: true,
        retry_after: None,
        cool_down: true,
        reported_prompt_tokens: None,
    }
}

pub fn context_exceeded(model: &str, reason: String) -> UpstreamError {
    UpstreamError::fatal(GatewayError::UpstreamContextExceeded {
        model: model.to_owned(),
        reason,
    })
}

/// A failure another attempt may not meet (5xx, overload, timeout on their side).
pub fn transient(model: &str, reason: String, retry_after: Option<Duration>) -> UpstreamError {
    UpstreamError {
        error: GatewayError::ProviderError {
            model: model.to_owned(),
            reason,
        },
        retriable: true,
        retry_after,
        cool_down: false,
        reported_prompt_tokens: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16) -> UpstreamError {
        by_status(ErrorAnswer {
            status,
            model: "m/x",
            reason: "Bad thing.".into(),
            param: Some("temperature"),
            retry_after: None,
        })
    }

    #[test]
    fn table() {
        // (status, contract status, type, retriable, cool_down)
        let cases: &[(u16, u16, &str, bool, bool)] = &[
            (301, 502, "provider_error", false, false),
            (307, 502, "provider_error", false, false),
            (400, 400, "invalid_request_error", false, false),
            (401, 502, "provider_error", false, false),
            (402, 502, "provider_error", true, true),
            (403, 502, "provider_error", false, false),
            (404, 502, "provider_error", false, false),
            (408, 502, "provider_error", true, false),
            (413, 413, "request_too_large", false, false),
            (422, 400, "invalid_request_error", false, false),
            (429, 429, "rate_limit_exceeded", true, false),
            (500, 502, "provider_error", true, false),
            (529, 502, "provider_error", true, false),
        ];
        for (status, want, kind, retriable, cool_down) in cases {
            let got = classify(*status);
            assert_eq!(
                (
                    got.error.status(),
                    got.error.error_type(),
                    got.retriable,
                    got.cool_down
                ),
                (*want, *kind, *retriable, *cool_down),
                "{status}"
            );
        }
    }

    #[test]
    fn a_rejected_request_keeps_the_reason_and_param() {
        let e = classify(400).error;
        assert_eq!(
            e.message(),
            "The provider rejected the request: Bad thing. Fix the request and retry."
        );
        assert_eq!(
            e.details(),
            Some(serde_json::json!({"param": "temperature"}))
        );
    }
}
