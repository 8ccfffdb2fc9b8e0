//! The `openai` kind: any OpenAI-compatible API (OpenAI, xAI, DeepSeek, Mistral, vLLM,
//! Ollama…). The request passes through with unknown fields kept; only the model
//! name, usage reporting and the output limit are rewritten.

mod embeddings;
mod error;
mod images;
mod request;
mod responses;
mod stream;

pub use embeddings::embeddings;
pub use error::map_error;
pub use images::images;
pub use responses::responses;

use crate::http::{parse_answer, post_json, Auth, JsonPost};
use crate::{ChatCall, ChatResponse, UpstreamError};
use modelgate_core::openai::ChatCompletion;

pub async fn chat(
    client: &reqwest::Client,
    call: &ChatCall<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let spec = &call.route.provider;
    let model = call.canonical_model;
    let url = format!("{}/chat/completions", spec.base_url);
    let body = request::to_native(call)?;
    let post = JsonPost {
        url,
        body,
        auth: Auth::Bearer,
        headers: &[],
    };
    let resp = post_json(client, spec, post, model, map_error).await?;
    if call.request.is_stream() {
        return Ok(ChatResponse::Stream(stream::chunks(resp, model.to_owned())));
    }
    let mut completion: ChatCompletion = parse_answer(resp, model).await?;
    completion.model = model.to_owned();
    Ok(ChatResponse::Complete(completion))
}
