//! `demo/image`: `n` copies of a 1x1 PNG, as base64 or as a `data:` URL (the mock has
//! no host to serve a real URL from), with the prompt echoed as `revised_prompt`.

use super::fault::Fault;
use crate::{ImagesCall, UpstreamError};
use modelgate_core::openai::ImagesResponse;
use serde_json::{json, Map};
use std::time::Duration;

const PIXEL_PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

pub async fn images(call: &ImagesCall<'_>) -> Result<ImagesResponse, UpstreamError> {
    let fault = Fault::parse(call.mock_fault.unwrap_or(""))?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(err) = fault.failure(call.canonical_model) {
        return Err(err);
    }
    let as_url = call.request.response_format.as_deref() == Some("url");
    let data = (0..call.request.count())
        .map(|_| {
            if as_url {
                json!({"url": format!("data:image/png;base64,{PIXEL_PNG_B64}"), "revised_prompt": call.request.prompt})
            } else {
                json!({"b64_json": PIXEL_PNG_B64, "revised_prompt": call.request.prompt})
            }
        })
        .collect();
    Ok(ImagesResponse {
        created: modelgate_core::time_fmt::now_unix(),
        data,
        extra: Map::new(),
    })
}
