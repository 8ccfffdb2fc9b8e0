//! POST /v1/embeddings.

use super::chat::refuse;
use crate::auth::Authed;
use crate::extract::read_json;
use crate::pipeline::admit::admit_embeddings;
use crate::pipeline::embeddings::{run, EmbeddingsJob};
use crate::pipeline::record::Record;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use modelgate_core::openai::EmbeddingsRequest;

pub async fn embeddings(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::start(&authed, &request_id.0);
    let limit = state.config.server.max_body_bytes as usize;
    let request: EmbeddingsRequest = match read_json(&headers, body, limit).await {
        Ok(r) => r,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = request.model.clone();
    let admitted = match admit_embeddings(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    run(EmbeddingsJob {
        state,
        record,
        admitted,
        request,
        mock_fault,
    })
    .await
}
