//! POST /v1/chat/completions.

use crate::auth::Authed;
use crate::error_response::error_response;
use crate::extract::read_json;
use crate::pipeline::admit::admit_chat;
use crate::pipeline::chat::{run, ChatJob};
use crate::pipeline::record::Record;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use modelgate_core::openai::ChatCompletionRequest;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::start(&authed, &request_id.0);
    let limit = state.config.server.max_body_bytes as usize;
    let request: ChatCompletionRequest = match read_json(&headers, body, limit).await {
        Ok(r) => r,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = request.model.clone();
    let admitted = match admit_chat(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    run(ChatJob {
        state,
        record,
        resolved: admitted.resolved,
        hold: admitted.hold,
        admission: admitted.admission,
        output_limit: admitted.output_limit,
        request,
        mock_fault,
    })
    .await
}

/// Answers a refusal before any upstream call, recording it (DESIGN §1: every
/// authenticated request gets a usage record).
pub async fn refuse(state: &AppState, record: Record, e: modelgate_core::GatewayError) -> Response {
    let resp = error_response(&e);
    record.finish(state, e.status(), Some(&e)).await;
    resp
}
