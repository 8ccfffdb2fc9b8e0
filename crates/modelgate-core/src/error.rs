//! The error contract of DESIGN §2: one enum, a variant per case, exhaustive methods.
//! Every layer (body parsing, auth, catalog, upstream mapping) answers with a
//! `GatewayError`; only the server turns it into HTTP.

use serde_json::{json, Map, Value};
use std::time::Duration;

/// Why a key was refused; all of them are 401 `auth_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
    /// The admin token was wrong or missing on /admin/*.
    AdminToken,
}

/// Why a request body or route was refused with 400/405/415/431.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest {
    pub message: String,
    pub param: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid request: {}", .0.message)]
    InvalidRequest(InvalidRequest),
    #[error("unsupported content type")]
    UnsupportedContentType { got: String },
    #[error("method not allowed")]
    MethodNotAllowed { method: String, path: String },
    #[error("request headers too large")]
    HeadersTooLarge { limit_bytes: usize },
    #[error("route not found")]
    RouteNotFound { path: String },
    #[error("resource not found")]
    NotFound { what: String },
    #[error("unsupported operation")]
    UnsupportedOperation(Box<UnsupportedOperation>),
    #[error("auth error: {0:?}")]
    Unauthorized(AuthFailure),
    #[error("insufficient balance")]
    InsufficientBalance(Box<InsufficientBalance>),
    #[error("forbidden")]
    Forbidden { model: String, by_key: bool },
    #[error("model not found")]
    ModelNotFound {
        model: String,
        suggestions: Vec<String>,
    },
    #[error("model retired")]
    ModelRetired {
        model: String,
        replacement: Option<String>,
        retired_on: String,
    },
    #[error("body too large")]
    BodyTooLarge { limit_bytes: usize },
    #[error("request body too slow")]
    BodyTimeout { limit: Duration },
    #[error("fetched file too large")]
    FetchTooLarge { param: String, limit_bytes: u64 },
    /// The images one request asks the gateway to fetch exceed `[fetch] max_total_bytes`.
    #[error("fetched files too large in total")]
    FetchTotalTooLarge { param: String, limit_bytes: u64 },
    /// An upload would take the account over `[files] max_account_files` (`files`)
    /// or `max_account_bytes`.
    #[error("account file quota exceeded")]
    FileQuotaExceeded { files: bool, limit: u64 },
    #[error("context window exceeded")]
    ContextWindowExceeded {
        model: String,
        context_window: u64,
        prompt_tokens: u64,
        max_tokens: Option<u64>,
        /// The field `max_tokens` came from (`max_completion_tokens`, `max_output_tokens`…).
        output_param: &'static str,
    },
    #[error("upstream context window exceeded")]
    UpstreamContextExceeded { model: String, reason: String },
    #[error("rate limited")]
    RateLimited {
        retry_after: Duration,
        scope: RateLimitScope,
    },
    #[error("idempotency conflict")]
    IdempotencyInFlight { retry_after: Duration },
    #[error("idempotency key reused with another body")]
    IdempotencyMismatch,
    #[error("internal error: {cause}")]
    Internal { cause: String },
    #[error("provider error: {reason}")]
    ProviderError { model: String, reason: String },
    #[error("provider unavailable: {reason}")]
    ProviderUnavailable {
        model: String,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// No route of the model has its provider's key set: a configuration error that
    /// retrying cannot fix, so unlike `ProviderUnavailable` it is not retriable.
    #[error("provider not configured")]
    ProviderNotConfigured {
        model: String,
        env_vars: Vec<String>,
    },
    #[error("upstream timeout")]
    Timeout { model: String },
    /// /readyz: a dependency of the gateway itself (storage) is unreachable.
    #[error("not ready: {reason}")]
    NotReady { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitScope {
    Key,
    Account,
    /// The upstream provider kept answering 429 after retries.
    Upstream,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnsupportedOperation {
    pub model: String,
    pub attempted_endpoint: String,
    pub supported_endpoints: Vec<String>,
    pub suggested_endpoint: String,
    pub hint: Option<String>,
    pub docs_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InsufficientBalance {
    pub balance_usd: String,
    pub available_usd: String,
    pub required_usd: String,
    pub key_limit: bool,
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::InvalidRequest(InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        })
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal {
            cause: cause.to_string(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) | Self::UnsupportedOperation(_) => 400,
            Self::UnsupportedContentType { .. } => 415,
            Self::MethodNotAllowed { .. } => 405,
            Self::HeadersTooLarge { .. } => 431,
            Self::BodyTimeout { .. } => 408,
            Self::RouteNotFound { .. } | Self::NotFound { .. } | Self::ModelNotFound { .. } => 404,
            Self::Unauthorized(_) => 401,
            Self::InsufficientBalance(_) => 402,
            Self::Forbidden { .. } => 403,
            Self::ModelRetired { .. } => 410,
            Self::BodyTooLarge { .. }
            | Self::FetchTooLarge { .. }
            | Self::FetchTotalTooLarge { .. }
            | Self::FileQuotaExceeded { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::UpstreamContextExceeded { .. } => 413,
            Self::RateLimited { .. } => 429,
            Self::IdempotencyInFlight { .. } => 409,
            Self::IdempotencyMismatch => 422,
            Self::Internal { .. } => 500,
            Self::ProviderError { .. } => 502,
            Self::ProviderUnavailable { .. }
            | Self::ProviderNotConfigured { .. }
            | Self::NotReady { .. } => 503,
            Self::Timeout { .. } => 504,
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_)
            | Self::UnsupportedContentType { .. }
            | Self::MethodNotAllowed { .. }
            | Self::HeadersTooLarge { .. }
            | Self::BodyTimeout { .. }
            | Self::IdempotencyMismatch => "invalid_request_error",
            Self::RouteNotFound { .. } | Self::NotFound { .. } => "not_found",
            Self::UnsupportedOperation(_) => "unsupported_operation",
            Self::Unauthorized(_) => "auth_error",
            Self::InsufficientBalance(_) => "insufficient_balance",
            Self::Forbidden { .. } => "forbidden",
            Self::ModelNotFound { .. } => "model_not_found",
            Self::ModelRetired { .. } => "model_retired",
            Self::BodyTooLarge { .. }
            | Self::FetchTooLarge { .. }
            | Self::FetchTotalTooLarge { .. }
            | Self::FileQuotaExceeded { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::UpstreamContextExceeded { .. } => "request_too_large",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::IdempotencyInFlight { .. } => "conflict",
            Self::Internal { .. } => "internal_error",
            Self::ProviderError { .. } => "provider_error",
            Self::ProviderUnavailable { .. }
            | Self::ProviderNotConfigured { .. }
            | Self::NotReady { .. } => "provider_unavailable",
            Self::Timeout { .. } => "timeout",
        }
    }

    /// Whether a client should retry (`x-should-retry`): 429 and 5xx, plus 409 for an
    /// idempotent repeat whose first request is still running (DESIGN §2); not a
    /// missing provider key, which only the operator can fix (issue 11). Derived from
    /// the exhaustive `status()`, so a new variant cannot be forgotten here.
    pub fn retriable(&self) -> bool {
        !matches!(self, Self::ProviderNotConfigured { .. })
            && matches!(self.status(), 409 | 429 | 500 | 502 | 503 | 504)
    }

    /// How long the client should wait before retrying, where the contract sets one
    /// (every retriable 409, 429 and 503; `status()` is where variants are enumerated).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::IdempotencyInFlight { retry_after } => {
                Some(*retry_after)
            }
            Self::ProviderUnavailable { retry_after, .. } => {
                Some(retry_after.unwrap_or(Duration::from_secs(1)))
            }
            Self::NotReady { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// A full sentence that says what was wrong and what to do next.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest(inv) => inv.message.clone(),
            Self::UnsupportedContentType { got } => format!(
                "This endpoint takes a JSON body, but the request's Content-Type is \"{got}\". Send the body as JSON with \"Content-Type: application/json\"."
            ),
            Self::MethodNotAllowed { method, path } => format!(
                "{method} is not allowed on {path}. Check the method in the API reference."
            ),
            Self::HeadersTooLarge { limit_bytes } => format!(
                "The request headers exceed {} KiB in total. Send fewer or shorter headers.",
                limit_bytes / 1024
            ),
            Self::BodyTimeout { limit } => format!(
                "The request body did not arrive within {} s. Check the connection and send the body without pausing.",
                // Sub-second deadlines must not read as "0 seconds".
                limit.as_secs_f64()
            ),
            Self::RouteNotFound { path } => format!(
                "There is no route {path}. Check the path: the OpenAI-compatible API lives under /v1 (for example /v1/chat/completions)."
            ),
            Self::NotFound { what } => format!("{what} was not found. Check the ID."),
            Self::UnsupportedOperation(op) => unsupported_message(op),
            Self::Unauthorized(reason) => auth_message(*reason),
            Self::InsufficientBalance(b) => {
                let (what, fix) = if b.key_limit {
                    ("this key's remaining spend limit", "Raise the key's max_spend_usd, use another key, or lower max_tokens.")
                } else {
                    ("the account's available balance", "Top up from Dashboard > Billing (/dashboard/billing), or lower max_tokens.")
                };
                format!(
                    "This request needs up to ${} reserved, but {what} is ${}. {fix}",
                    b.required_usd, b.available_usd
                )
            }
            Self::Forbidden { model, by_key } => {
                let who = if *by_key { "this API key" } else { "this account" };
                format!("The model \"{model}\" is not available to {who}. Ask your administrator for access, or use a model listed by GET /v1/models.")
            }
            Self::ModelNotFound { model, suggestions } => {
                let mut msg = format!("The model \"{model}\" does not exist.");
                if !suggestions.is_empty() {
                    msg.push_str(&format!(" Did you mean \"{}\"?", suggestions.join("\" or \"")));
                }
                msg.push_str(" Use a canonical ID of the form provider/model (GET /api/models lists them).");
                msg
            }
            Self::ModelRetired {
                model,
                replacement,
                retired_on,
            } => match replacement {
                Some(r) => format!("Model \"{model}\" was retired on {retired_on}. Use \"{r}\" instead."),
                None => format!("Model \"{model}\" was retired on {retired_on}. Pick another model from GET /api/models."),
            },
            Self::BodyTooLarge { limit_bytes } => format!(
                "The request body exceeds the limit of {limit_bytes} bytes. Shorten the input or send large files through /v1/files."
            ),
            Self::FetchTooLarge { param, limit_bytes } => format!(
                "The file at '{param}' is larger than the gateway's fetch limit of {limit_bytes} bytes. Send a smaller file, or inline it as a data URL."
            ),
            Self::FetchTotalTooLarge { param, limit_bytes } => format!(
                "The images this request asks the gateway to fetch exceed its limit of {limit_bytes} bytes per request (reached at '{param}'). Send fewer or smaller images, or inline them as data URLs."
            ),
            Self::FileQuotaExceeded { files: true, limit } => format!(
                "This account already holds {limit} files, the most it may keep. Delete files it no longer needs first (DELETE /v1/files/{{id}}; GET /v1/files lists them), then upload again."
            ),
            Self::FileQuotaExceeded { files: false, limit } => format!(
                "This upload would take the account's stored files over {limit} bytes, the most it may keep. Delete files it no longer needs first (DELETE /v1/files/{{id}}; GET /v1/files lists them), or upload a smaller file."
            ),
            Self::ContextWindowExceeded {
                model,
                context_window,
                prompt_tokens,
                max_tokens,
                output_param: p,
            } => match max_tokens {
                Some(m) => format!("The prompt (at least {prompt_tokens} tokens) plus {p} ({m}) exceeds the context window of \"{model}\" ({context_window} tokens). Shorten the messages or lower {p}."),
                None => format!("The prompt (at least {prompt_tokens} tokens) exceeds the context window of \"{model}\" ({context_window} tokens). Shorten the messages."),
            },
            Self::UpstreamContextExceeded { model, reason } => format!(
                "The request exceeds the context window of \"{model}\": {reason} Shorten the messages or lower max_tokens."
            ),
            Self::RateLimited { retry_after, scope } => {
                let who = match scope {
                    RateLimitScope::Key => "this API key's rate limit",
                    RateLimitScope::Account => "this account's rate limit",
                    RateLimitScope::Upstream => "the upstream provider's rate limit",
                };
                format!(
                    "The request hit {who}. Retry after {} seconds (see the Retry-After header), with exponential backoff.",
                    retry_after_secs(*retry_after)
                )
            }
            Self::IdempotencyInFlight { .. } => "A request with this Idempotency-Key is still running. Retry after the Retry-After header to get its answer.".to_owned(),
            Self::IdempotencyMismatch => "This Idempotency-Key was already used with a different request body. Use a new key for a new request.".to_owned(),
            Self::Internal { .. } => "The gateway hit an internal error. Retry shortly; if it persists, report the x-request-id.".to_owned(),
            Self::ProviderError { model, reason } => format!(
                "The provider serving \"{model}\" failed: {reason} This is often transient: retry."
            ),
            Self::ProviderUnavailable { model, reason, .. } => format!(
                "No deployment of \"{model}\" is reachable right now: {reason} Retry later."
            ),
            Self::ProviderNotConfigured { model, env_vars } => not_configured_message(model, env_vars),
            Self::NotReady { reason } => format!("The gateway is not ready: {reason} Retry later."),
            Self::Timeout { model } => format!(
                "The provider serving \"{model}\" did not answer within the deadline. Retry, stream the answer, or ask for fewer tokens."
            ),
        }
    }

    /// `error.details`, where the contract gives one.
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest(inv) => inv.param.as_ref().map(|p| json!({ "param": p })),
            Self::UnsupportedOperation(op) => {
                let mut d = Map::new();
                d.insert("param".into(), json!("model"));
                d.insert("model".into(), json!(op.model));
                d.insert("attempted_endpoint".into(), json!(op.attempted_endpoint));
                d.insert("supported_endpoints".into(), json!(op.supported_endpoints));
                d.insert("suggested_endpoint".into(), json!(op.suggested_endpoint));
                if let Some(h) = &op.hint {
                    d.insert("hint".into(), json!(h));
                }
                if let Some(u) = &op.docs_url {
                    d.insert("docs_url".into(), json!(u));
                }
                Some(Value::Object(d))
            }
            Self::InsufficientBalance(b) => Some(json!({
                "balance_usd": decimal(&b.balance_usd),
                "available_usd": decimal(&b.available_usd),
                "required_usd": decimal(&b.required_usd),
                "limit_source": if b.key_limit { "key_limit" } else { "account_balance" },
            })),
            Self::Forbidden { model, .. } => Some(json!({ "param": "model", "model": model })),
            Self::ModelNotFound { model, suggestions } => Some(json!({
                "param": "model", "model": model, "suggestions": suggestions,
            })),
            Self::ModelRetired {
                model,
                replacement,
                retired_on,
            } => Some(json!({
                "model": model, "replacement_model": replacement, "retirement_date": retired_on,
            })),
            Self::ContextWindowExceeded {
                model,
                context_window,
                prompt_tokens,
                max_tokens,
                output_param,
            } => {
                let mut d = json!({
                    "model": model, "context_window": context_window,
                    "prompt_tokens": prompt_tokens, "max_tokens": max_tokens,
                });
                if max_tokens.is_some() {
                    // The output field that tipped it over, as OpenAI's `param` does.
                    d["param"] = json!(output_param);
                }
                Some(d)
            }
            Self::UpstreamContextExceeded { model, .. } => Some(json!({ "model": model })),
            Self::FetchTooLarge { param, limit_bytes }
            | Self::FetchTotalTooLarge { param, limit_bytes } => {
                Some(json!({ "param": param, "limit_bytes": limit_bytes }))
            }
            Self::FileQuotaExceeded { files, limit } => Some(if *files {
                json!({ "param": "file", "max_account_files": limit })
            } else {
                json!({ "param": "file", "max_account_bytes": limit })
            }),
            Self::IdempotencyMismatch => Some(json!({ "param": "Idempotency-Key" })),
            Self::Unauthorized(reason) => Some(json!({ "reason": auth_reason(*reason) })),
            Self::ProviderUnavailable { model, .. }
            | Self::ProviderError { model, .. }
            | Self::Timeout { model } => Some(json!({ "model": model })),
            Self::ProviderNotConfigured { model, env_vars } => {
                Some(json!({ "model": model, "env_vars": env_vars }))
            }
            Self::UnsupportedContentType { .. }
            | Self::MethodNotAllowed { .. }
            | Self::HeadersTooLarge { .. }
            | Self::BodyTimeout { .. }
            | Self::RouteNotFound { .. }
            | Self::NotFound { .. }
            | Self::BodyTooLarge { .. }
            | Self::RateLimited { .. }
            | Self::IdempotencyInFlight { .. }
            | Self::NotReady { .. }
            | Self::Internal { .. } => None,
        }
    }

    /// The contract's body: `{"error": {"message", "type", "details"?}}`.
    pub fn to_body(&self) -> Value {
        let mut err = Map::new();
        err.insert("message".into(), Value::String(self.message()));
        err.insert("type".into(), Value::String(self.error_type().to_owned()));
        if let Some(d) = self.details() {
            err.insert("details".into(), d);
        }
        json!({ "error": err })
    }
}

/// Retry-After in whole seconds, rounded up and clamped to 1..=60 (DESIGN §2).
pub fn retry_after_secs(d: Duration) -> u64 {
    let ms = d.as_millis() as u64;
    ms.div_ceil(1000).clamp(1, 60)
}

fn decimal(text: &str) -> Value {
    text.parse::<f64>().map(|f| json!(f)).unwrap_or(Value::Null)
}

fn auth_reason(reason: AuthFailure) -> &'static str {
    match reason {
        AuthFailure::Missing => "missing",
        AuthFailure::Malformed => "malformed",
        AuthFailure::Unknown => "unknown",
        AuthFailure::Expired => "expired",
        AuthFailure::Revoked => "revoked",
        AuthFailure::AdminToken => "admin_token",
    }
}

fn auth_message(reason: AuthFailure) -> String {
    const FIX: &str = "Generate a new key in the dashboard (/dashboard/keys).";
    match reason {
        AuthFailure::Missing => format!("No API key was sent. Send \"Authorization: Bearer <key>\". {FIX}"),
        AuthFailure::Malformed => format!("The Authorization header is malformed: expected \"Bearer mg-…\". {FIX}"),
        AuthFailure::Unknown => format!("Invalid API key. {FIX}"),
        AuthFailure::Expired => format!("This API key has expired. {FIX}"),
        AuthFailure::Revoked => format!("This API key was revoked. {FIX}"),
        AuthFailure::AdminToken => "Invalid admin token. Send \"Authorization: Bearer <admin token>\" (the value of the variable named by [admin] token_env).".to_owned(),
    }
}

fn not_configured_message(model: &str, env_vars: &[String]) -> String {
    const NO_RETRY: &str =
        "Retrying will not help until then; use another model from GET /v1/models meanwhile.";
    if env_vars.is_empty() {
        return format!("The model \"{model}\" is not served by this gateway: no configured provider routes it. The gateway's operator must add a route to a configured provider in its config file. {NO_RETRY}");
    }
    format!(
        "The model \"{model}\" is not served by this gateway: its provider's API key is not configured. The gateway's operator must set the environment variable {} and restart the gateway. {NO_RETRY}",
        env_vars.join(" or ")
    )
}

fn unsupported_message(op: &UnsupportedOperation) -> String {
    let mut msg = format!(
        "The model \"{}\" does not support {}. Use {} instead.",
        op.model, op.attempted_endpoint, op.suggested_endpoint
    );
    if let Some(h) = &op.hint {
        msg.push(' ');
        msg.push_str(h);
    }
    msg
}

#[cfg(test)]
mod tests {
    #[test]
    fn body_timeouts_below_a_second_are_not_zero() {
        let e = GatewayError::BodyTimeout {
            limit: std::time::Duration::from_millis(500),
        };
        assert!(e.message().contains("within 0.5 s"), "{}", e.message());
    }

    use super::*;

    #[test]
    fn retry_after_is_rounded_up_and_clamped() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(600)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn retired_message_matches_the_errors_page() {
        let e = GatewayError::ModelRetired {
            model: "mimo/mimo-v2-pro".into(),
            replacement: Some("mimo/mimo-v2.5-pro".into()),
            retired_on: "2026-06-30".into(),
        };
        assert_eq!(
            e.to_body(),
            json!({"error": {
                "message": "Model \"mimo/mimo-v2-pro\" was retired on 2026-06-30. Use \"mimo/mimo-v2.5-pro\" instead.",
                "type": "model_retired",
                "details": {"model": "mimo/mimo-v2-pro", "replacement_model": "mimo/mimo-v2.5-pro", "retirement_date": "2026-06-30"}
            }})
        );
        assert_eq!(e.status(), 410);
        assert!(!e.retriable());
    }

    #[test]
    fn messages_name_the_field_sent_and_read_as_one_sentence() {
        let e = GatewayError::ContextWindowExceeded {
            model: "demo/echo".into(),
            context_window: 50,
            prompt_tokens: 20,
            max_tokens: Some(40),
            output_param: "max_completion_tokens",
        };
        let msg = e.message();
        assert!(msg.contains("plus max_completion_tokens (40)"), "{msg}");
        assert!(!msg.contains("max_tokens"), "{msg}");
        assert_eq!(e.details().unwrap()["param"], "max_completion_tokens");
        for key_limit in [false, true] {
            let e = GatewayError::InsufficientBalance(Box::new(InsufficientBalance {
                balance_usd: "1".into(),
                available_usd: "0.5".into(),
                required_usd: "2".into(),
                key_limit,
            }));
            let msg = e.message();
            let (_, after) = msg.split_once(", but ").unwrap();
            assert!(after.starts_with(|c: char| c.is_lowercase()), "{msg}");
        }
    }

    #[test]
    fn retry_after_goes_with_every_retriable_409_429_and_503() {
        let s = || "x".to_owned();
        let wait = Duration::from_secs(2);
        for e in [
            GatewayError::RateLimited {
                retry_after: wait,
                scope: RateLimitScope::Key,
            },
            GatewayError::IdempotencyInFlight { retry_after: wait },
            GatewayError::IdempotencyMismatch,
            GatewayError::Internal { cause: s() },
            GatewayError::ProviderError {
                model: s(),
                reason: s(),
            },
            GatewayError::ProviderUnavailable {
                model: s(),
                reason: s(),
                retry_after: None,
            },
            GatewayError::ProviderNotConfigured {
                model: s(),
                env_vars: vec![],
            },
            GatewayError::NotReady { reason: s() },
            GatewayError::Timeout { model: s() },
            GatewayError::BodyTooLarge { limit_bytes: 1 },
        ] {
            let wants = e.retriable() && matches!(e.status(), 409 | 429 | 503);
            assert_eq!(e.retry_after().is_some(), wants, "{e:?}");
        }
    }

    #[test]
    fn only_a_missing_provider_key_is_a_503_not_worth_retrying() {
        let missing = GatewayError::ProviderNotConfigured {
            model: "openai/gpt-4o".into(),
            env_vars: vec!["OPENAI_API_KEY".into()],
        };
        assert_eq!((missing.status(), missing.retriable()), (503, false));
        assert_eq!(missing.retry_after(), None);
        let down = GatewayError::ProviderUnavailable {
            model: "openai/gpt-4o".into(),
            reason: "every deployment is failing and cooling down.".into(),
            retry_after: None,
        };
        assert_eq!((down.status(), down.retriable()), (503, true));
        assert_eq!(down.retry_after(), Some(Duration::from_secs(1)));
    }
}
