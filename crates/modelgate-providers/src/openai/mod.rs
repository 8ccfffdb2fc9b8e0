//! The `openai` kind: any OpenAI-compatible API (OpenAI, xAI, DeepSeek, Mistral, vLLM,
//! Ollama…). The request passes through with unknown fields kept; only the model
//! name, usage reporting and the output limit are rewritten.

mod error;
mod request;
mod stream;

pub use error::map_error;

use crate::http::{send, transport_error};
use crate::{ChatCall, ChatResponse, UpstreamError};
use modelgate_core::openai::ChatCompletion;
use modelgate_core::GatewayError;

pub async fn chat(
    client: &reqwest::Client,
    call: &ChatCall<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let spec = &call.route.provider;
    let body = request::to_native(call)?;
    let mut builder = client
        .post(format!("{}/chat/completions", spec.base_url))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(spec.total_timeout)
        .body(body);
    if let Some(key) = &spec.api_key {
        builder = builder.bearer_auth(key.expose());
    }
    let model = call.canonical_model;
    let resp = send(builder, spec.first_byte_timeout, model).await?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let retry_after = error::retry_after(resp.headers());
        let body = crate::http::read_error_body(resp).await;
        return Err(map_error(status, &body, retry_after, model));
    }
    if call.request.is_stream() {
        return Ok(ChatResponse::Stream(stream::chunks(resp, model.to_owned())));
    }
    let bytes = resp.bytes().await.map_err(|e| transport_error(&e, model))?;
    let mut completion: ChatCompletion = serde_json::from_slice(&bytes).map_err(|_| {
        UpstreamError::retriable(GatewayError::ProviderError {
            model: model.to_owned(),
            reason: "the provider's answer was not a valid chat completion.".into(),
        })
    })?;
    completion.model = model.to_owned();
    Ok(ChatResponse::Complete(completion))
}
