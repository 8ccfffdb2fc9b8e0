//! Error answers in each provider's own shape, with retry headers.
//! The per-provider tables live in `<provider>/error.rs`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
}

/// A requested failure: `status` and/or `code` from the directives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failure<'a> {
    pub status: Option<u16>,
    pub code: Option<&'a str>,
    pub retry_after: Option<f64>,
    /// The model without directives, for messages such as "model not found".
    pub model: &'a str,
}

pub(crate) fn fault(provider: Provider, f: &Failure<'_>) -> Response {
    let (status, body) = match provider {
        Provider::OpenAi => crate::openai::error::fault(f),
        Provider::Anthropic => crate::anthropic::error::fault(f),
        Provider::Gemini => crate::gemini::error::fault(f),
    };
    let mut resp = json(status, &body);
    if let Some(secs) = f.retry_after {
        // Retry-After takes whole seconds; OpenAI adds the exact value in ms.
        let whole = secs.ceil() as u64;
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(whole));
        if provider == Provider::OpenAi {
            let ms = (secs * 1000.0).round() as u64;
            resp.headers_mut()
                .insert("retry-after-ms", HeaderValue::from(ms));
        }
    }
    resp
}

/// 307 to `location`, empty body: clients that follow it resend the request there.
pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(http::header::LOCATION, value);
    }
    resp
}

/// 400 for a request the simulator cannot read (bad JSON, missing fields, bad directive).
pub(crate) fn invalid_request(provider: Provider, message: &str) -> Response {
    let body = match provider {
        Provider::OpenAi => {
            crate::openai::error::body(message, "invalid_request_error", None, None)
        }
        Provider::Anthropic => crate::anthropic::error::body("invalid_request_error", message),
        Provider::Gemini => crate::gemini::error::body(400, "INVALID_ARGUMENT", message),
    };
    json(400, &body)
}

/// 404 for an unknown path, in OpenAI's shape (the most common client).
pub(crate) fn unknown_route(method: &str, path: &str) -> Response {
    let message = format!("Invalid URL ({method} {path})");
    json(
        404,
        &crate::openai::error::body(&message, "invalid_request_error", None, None),
    )
}

pub(crate) fn json(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
