//! The outgoing body for an OpenAI-compatible upstream.

use crate::{ChatCall, UpstreamError};
use modelgate_core::model_id::ReasoningEffort;
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
        req.reasoning_effort =
            effort_value(&call.route.provider.base_url, effort).map(str::to_owned);
        req.extra.remove("reasoning");
    }
    serde_json::to_vec(&req).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))
}

/// The `reasoning_effort` each OpenAI-compatible upstream understands: OpenAI takes
/// low/medium/high; xAI's grok reasoning models take low/high; DeepSeek and Mistral
/// choose reasoning by model, not by a field, so nothing is sent.
fn effort_value(base_url: &str, effort: ReasoningEffort) -> Option<&'static str> {
    let host = base_url.split("://").nth(1).unwrap_or(base_url);
    if host.starts_with("api.deepseek.com") || host.starts_with("api.mistral.ai") {
        return None;
    }
    Some(match (host.starts_with("api.x.ai"), effort) {
        (true, ReasoningEffort::Low | ReasoningEffort::Medium) => "low",
        (true, _) => "high",
        (false, ReasoningEffort::Max) => "high",
        (false, e) => e.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_per_upstream() {
        assert_eq!(
            effort_value("https://api.openai.com/v1", ReasoningEffort::Medium),
            Some("medium")
        );
        assert_eq!(
            effort_value("https://api.openai.com/v1", ReasoningEffort::Max),
            Some("high")
        );
        assert_eq!(
            effort_value("https://api.x.ai/v1", ReasoningEffort::Medium),
            Some("low")
        );
        assert_eq!(
            effort_value("https://api.deepseek.com/v1", ReasoningEffort::High),
            None
        );
        assert_eq!(
            effort_value("http://127.0.0.1:8000/v1", ReasoningEffort::Low),
            Some("low")
        );
    }
}
