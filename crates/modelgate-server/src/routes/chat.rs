//! POST /v1/chat/completions.

use crate::auth::Authed;
use crate::idempotency::{last_event_id, Mode};
use crate::pipeline::admit::admit_chat;
use crate::pipeline::chat::{run, ChatJob};
use crate::pipeline::keyed::{answer_early, read_keyed, refuse, Keyed};
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
    let last_event_id = match last_event_id(&headers) {
        Ok(id) => id,
        Err(e) => return refuse(&state, record, None, e).await,
    };
    let keyed = match read_keyed(
        &state,
        &authed,
        &headers,
        body,
        |r: &ChatCompletionRequest| {
            if r.is_stream() {
                Mode::Stream { last_event_id }
            } else {
                Mode::Plain
            }
        },
    )
    .await
    {
        Ok(k) => k,
        Err(early) => return answer_early(&state, record, early).await,
    };
    let Keyed { request, ticket } = keyed;
    record.inner.model = request.model.clone();
    let admitted = match admit_chat(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, ticket, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    run(
        ChatJob {
            state,
            record,
            resolved: admitted.resolved,
            hold: admitted.hold,
            admission: admitted.admission,
            output_limit: admitted.output_limit,
            request,
            mock_fault,
        },
        ticket,
    )
    .await
}
