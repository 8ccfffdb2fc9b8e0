//! POST {base}/images/generations on an OpenAI-compatible upstream: passthrough with
//! the model rewritten.

use super::error::map_error;
use crate::http::{parse_answer, post_json, Auth, JsonPost};
use crate::{ImagesCall, UpstreamError};
use modelgate_core::openai::ImagesResponse;
use modelgate_core::GatewayError;

pub async fn images(
    client: &reqwest::Client,
    call: &ImagesCall<'_>,
) -> Result<ImagesResponse, UpstreamError> {
    let spec = &call.route.provider;
    let mut native = call.request.clone();
    native.model = call.route.upstream_model.clone();
    let body =
        serde_json::to_vec(&native).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))?;
    let post = JsonPost {
        url: format!("{}/images/generations", spec.base_url),
        body,
        auth: Auth::Bearer,
        headers: &[],
    };
    let resp = post_json(client, spec, post, call.canonical_model, map_error).await?;
    parse_answer(resp, call.canonical_model).await
}
