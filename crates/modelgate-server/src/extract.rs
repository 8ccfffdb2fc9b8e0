//! Reading JSON bodies in the contract's terms: 415 for another content type, 413 over
//! `[server] max_body_bytes`, 400 naming the field for invalid JSON (DESIGN §2).

use axum::body::Body;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use modelgate_core::openai::parse_json_body;
use modelgate_core::GatewayError;
use serde::de::DeserializeOwned;

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

pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, GatewayError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::BodyTooLarge { limit_bytes: limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::BodyTooLarge { limit_bytes: limit })
        }
        Err(_) => Err(GatewayError::invalid(
            "The request body could not be read completely. Resend the request.",
            None,
        )),
    }
}

pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, GatewayError> {
    check_json_content_type(headers)?;
    let bytes = read_body(headers, body, limit).await?;
    parse_json_body(&bytes)
}
