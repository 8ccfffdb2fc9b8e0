//! POST /v1/images/generations.

use crate::auth::Authed;
use crate::pipeline::endpoint::handle;
use crate::pipeline::images::Images;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;

pub async fn generations(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle::<Images>(state, request_id, authed, headers, body).await
}
