//! POST /v1/chat/completions.

use crate::auth::Authed;
use crate::pipeline::chat::Chat;
use crate::pipeline::endpoint::handle;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle::<Chat>(state, request_id, authed, headers, body).await
}
