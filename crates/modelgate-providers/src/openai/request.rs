//! The outgoing body for an OpenAI-compatible upstream.

use crate::{ChatCall, UpstreamError};
use modelgate_core::openai::StreamOptions;
use modelgate_core::GatewayError;

pub fn to_native(call: &ChatCall<'_>) -> Result<Vec<u8>, UpstreamError> {
    let mut req = call.request.clone();
    req.model = call.route.upstream_model.clone();
    if req.is_stream() {
        // Always ask for usage so that billing never depends on the client's choice;
        // the server drops the usage chunk when the client did not ask (issue #3).
        req.stream_options
            .get_or_insert_with(StreamOptions::default)
            .include_usage = Some(true);
    }
    if req.output_limit().is_none() {
        if let Some(limit) = call.max_output_tokens {
            // api.openai.com rejects max_tokens on reasoning models; other compatible
            // servers (vLLM, DeepSeek, older releases) only know max_tokens.
            if call.route.provider.base_url.contains("api.openai.com") {
                req.max_completion_tokens = Some(limit);
            } else {
                req.max_tokens = Some(limit);
            }
        }
    }
    if let Some(effort) = call.effort {
        req.reasoning_effort = Some(effort.as_str().to_owned());
        req.extra.remove("reasoning");
    }
    serde_json::to_vec(&req).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))
}
