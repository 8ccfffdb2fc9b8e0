//! Reading requests in the contract's terms (DESIGN §2): JSON bodies (415 for another
//! content type, 413 over the limit, at once when `Content-Length` says so, 400 naming
//! the field for invalid JSON), and `Path` / `Query` extractors whose rejections are
//! 400 `invalid_request_error` naming the parameter instead of axum's plain text.

use crate::error_response::ApiError;
use axum::body::Body;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::FromRequestParts;
use http::request::Parts;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use modelgate_core::model_id::quoted;
use modelgate_core::openai::parse_json_body;
use modelgate_core::GatewayError;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::time::Duration;

/// axum's `Path`, rejecting in the contract's shape: a segment that is not UTF-8 once
/// percent-decoded (or does not parse) is a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(ApiError(path_error(&rejection))),
        }
    }
}

fn path_error(rejection: &PathRejection) -> GatewayError {
    // axum calls route/extractor mismatches server errors: they are our bugs.
    if rejection.status().is_server_error() {
        return GatewayError::internal(rejection.body_text());
    }
    let (key, utf8) = match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => (Some(quoted(key)), true),
            ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. } => {
                (Some(quoted(key)), false)
            }
            _ => (None, false),
        },
        _ => (None, false),
    };
    let what = key.as_deref().map_or("A path segment".to_owned(), |k| {
        format!("The path parameter '{k}'")
    });
    let why = if utf8 {
        "is not UTF-8 text once percent-decoded"
    } else {
        "is not valid"
    };
    GatewayError::invalid(
        format!("{what} {why}. Use the ID exactly as the API returned it."),
        key.as_deref(),
    )
}

/// axum's `Query`, rejecting in the contract's shape (see [`parse_query`]).
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query()).map(Query).map_err(ApiError)
    }
}

/// Parses a query string into `T` (whose fields are strings, checked by the caller):
/// a repeated, unknown or missing parameter is a 400 naming it.
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, GatewayError> {
    let raw = raw.unwrap_or("");
    // Pairs always parse (percent-decoding is lossy), so this only finds repeats.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
    let mut seen = HashSet::new();
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        let key = quoted(key);
        return Err(GatewayError::invalid(
            format!("The query parameter '{key}' appears more than once. Send it once."),
            Some(&key),
        ));
    }
    serde_urlencoded::from_str(raw).map_err(|e| {
        let problem = e.to_string();
        // serde names the parameter in backticks: "unknown field `x`, expected …".
        let key = problem.split('`').nth(1).map(str::to_owned);
        let problem = match &key {
            Some(k) => problem.replacen(&format!("`{k}`"), &format!("`{}`", quoted(k)), 1),
            None => problem,
        };
        let key = key.as_deref().map(quoted);
        GatewayError::invalid(
            format!(
                "Invalid query string: {problem}. Check the parameter names in the API reference."
            ),
            key.as_deref(),
        )
    })
}

pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), GatewayError> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let mime = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(GatewayError::UnsupportedContentType {
            got: text.chars().take(100).collect(),
        })
    }
}

/// How much of an oversized body is read and discarded so that the client, still
/// uploading, gets to read the 413 instead of a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Reads the whole body within `timeout` (408 otherwise) and `limit` bytes (413).
pub async fn read_body_timed(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<bytes::Bytes, GatewayError> {
    within(timeout, read_body(headers, body, limit)).await?
}

/// Runs a body read under the client's deadline: 408 when it takes longer.
pub async fn within<T>(
    timeout: Duration,
    read: impl std::future::Future<Output = T>,
) -> Result<T, GatewayError> {
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| GatewayError::BodyTimeout { limit: timeout })
}

/// The body size the client declared in `Content-Length`, if it parses.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// 413 at once when the declared `Content-Length` is over `limit`: the body is not
/// waited for (it is discarded in the background).
pub fn refuse_declared_oversize(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Body, GatewayError> {
    if declared_length(headers).is_some_and(|n| n > limit) {
        discard(headers, body);
        return Err(GatewayError::BodyTooLarge {
            limit_bytes: usize::try_from(limit).unwrap_or(usize::MAX),
        });
    }
    Ok(body)
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, GatewayError> {
    let mut body = refuse_declared_oversize(headers, body, limit as u64)?;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(GatewayError::invalid(
                "The request body could not be read completely. Resend the request.",
                None,
            ));
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                discard(headers, body);
                return Err(GatewayError::BodyTooLarge { limit_bytes: limit });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Lets the rest of a refused body drain while the 413 is written (hyper answers while
/// still reading), so a client still uploading reads the answer rather than a reset.
/// Not a tracked task (tasks.rs): discarding bytes must never hold up shutdown. A client
/// that sent `Expect: 100-continue` has sent nothing yet: reading would invite the body,
/// so it is dropped and hyper closes the connection after the answer.
pub fn discard(headers: &HeaderMap, body: Body) {
    let expects = headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects {
        return;
    }
    tokio::spawn(async move {
        let mut body = Limited::new(body, DRAIN_LIMIT);
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
    });
}

/// A JSON body read whole within `timeout` (`[server] body_timeout_ms`, see
/// `AppState::body_timeout`).
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<T, GatewayError> {
    check_json_content_type(headers)?;
    let bytes = read_body_timed(headers, body, limit, timeout).await?;
    parse_json_body(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Q {
        #[expect(dead_code, reason = "only parsed")]
        a: Option<String>,
    }

    fn param(raw: &str) -> serde_json::Value {
        parse_query::<Q>(Some(raw)).unwrap_err().to_body()["error"]["details"]["param"].clone()
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert!(parse_query::<Q>(Some("a=1")).is_ok());
        assert!(parse_query::<Q>(None).is_ok());
        assert_eq!(param("a=1&a=2"), "a");
        assert_eq!(param("b=1"), "b");
        let long = format!("{}=1", "k".repeat(1000));
        let body = parse_query::<Q>(Some(&long)).unwrap_err().to_body();
        assert!(body.to_string().len() < 1000, "{body}");
    }
}
