//! `demo/image`: `n` copies of a 1x1 PNG as base64, with the prompt echoed as
//! `revised_prompt`. Like Gemini, the mock returns bytes only: the gateway refuses
//! `response_format: "url"` for it before the call (it hosts no images to link to).

use super::fault::Fault;
use crate::{ImagesCall, UpstreamError};
use modelgate_core::openai::ImagesResponse;
use modelgate_core::GatewayError;
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
    if call.request.response_format.as_deref() == Some("url") {
        // Never a `data:` URL where an http(s) one is promised (issue 11).
        return Err(UpstreamError::fatal(GatewayError::invalid(
            "The mock provider returns image bytes only. Use 'response_format' \"b64_json\".",
            Some("response_format"),
        )));
    }
    let data = (0..call.request.count())
        .map(|_| json!({"b64_json": PIXEL_PNG_B64, "revised_prompt": call.request.prompt}))
        .collect();
    Ok(ImagesResponse {
        created: modelgate_core::time_fmt::now_unix(),
        data,
        extra: Map::new(),
    })
}
