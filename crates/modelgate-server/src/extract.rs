//! Reading JSON bodies in the contract's terms: 415 for another content type, 413 over
//! `[server] max_body_bytes`, 400 naming the field for invalid JSON (DESIGN §2).

use axum::body::Body;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use modelgate_core::openai::parse_json_body;
use modelgate_core::GatewayError;
use serde::de::DeserializeOwned;
use std::time::Duration;

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
    tokio::time::timeout(timeout, read_body(headers, body, limit))
        .await
        .map_err(|_| GatewayError::BodyTimeout { limit: timeout })?
}

pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, GatewayError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = GatewayError::BodyTooLarge { limit_bytes: limit };
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body).await;
        return Err(too_large);
    }
    let mut body = body;
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
                drain(body).await;
                return Err(too_large);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

async fn drain(body: Body) {
    let mut body = Limited::new(body, DRAIN_LIMIT);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

/// For bodies read outside the chat pipeline (admin API, catalog-only endpoints).
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, GatewayError> {
    check_json_content_type(headers)?;
    let bytes = read_body_timed(headers, body, limit, DEFAULT_BODY_TIMEOUT).await?;
    parse_json_body(&bytes)
}
