//! The optional API key check, answered with each provider's real auth error.

use axum::response::Response;
use http::HeaderMap;

use crate::errors::{self, Provider};

/// `None` when the request may proceed.
pub(crate) fn check(
    expected: Option<&str>,
    provider: Provider,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<Response> {
    let expected = expected?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let given = match provider {
        Provider::OpenAi => header("authorization").map(|v| v.strip_prefix("Bearer ").unwrap_or(v)),
        Provider::Anthropic => header("x-api-key"),
        Provider::Gemini => header("x-goog-api-key").or_else(|| query_param(query, "key")),
    };
    if given == Some(expected) {
        return None;
    }
    Some(match provider {
        Provider::OpenAi => openai(given),
        Provider::Anthropic => {
            let message = match given {
                None => "x-api-key header is required",
                Some(_) => "invalid x-api-key",
            };
            errors::json(
                401,
                &crate::anthropic::error::body("authentication_error", message),
            )
        }
        Provider::Gemini => errors::json(400, &crate::gemini::error::api_key_invalid()),
    })
}

fn openai(given: Option<&str>) -> Response {
    let (message, code) = match given {
        None | Some("") => (
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or \
             as the password field (with blank username) if you're accessing the API from \
             your browser and are prompted for a username and password. You can obtain an API \
             key from https://platform.openai.com/account/api-keys."
                .to_string(),
            None,
        ),
        Some(key) => (
            crate::openai::error::incorrect_key(key),
            Some("invalid_api_key"),
        ),
    };
    let body = crate::openai::error::body(&message, "invalid_request_error", None, code);
    errors::json(401, &body)
}

/// A raw query parameter (API keys and `alt` values need no percent-decoding).
pub(crate) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
