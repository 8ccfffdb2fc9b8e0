//! POST {base}/embeddings on an OpenAI-compatible upstream: passthrough with the
//! model rewritten both ways.

use super::error::map_error;
use crate::http::{parse_answer, post_json, Auth, JsonPost};
use crate::{EmbeddingsCall, UpstreamError};
use modelgate_core::openai::EmbeddingsResponse;
use modelgate_core::GatewayError;

pub async fn embeddings(
    client: &reqwest::Client,
    call: &EmbeddingsCall<'_>,
) -> Result<EmbeddingsResponse, UpstreamError> {
    let spec = &call.route.provider;
    let model = call.canonical_model;
    let mut native = call.request.clone();
    native.model = call.route.upstream_model.clone();
    let body =
        serde_json::to_vec(&native).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))?;
    let post = JsonPost {
        url: format!("{}/embeddings", spec.base_url),
        body,
        auth: Auth::Bearer,
        headers: &[],
    };
    let resp = post_json(client, spec, post, model, map_error).await?;
    let mut answer: EmbeddingsResponse = parse_answer(resp, model).await?;
    answer.model = model.to_owned();
    Ok(answer)
}
