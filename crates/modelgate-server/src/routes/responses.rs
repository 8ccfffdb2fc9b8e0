//! POST /v1/responses.

use crate::auth::Authed;
use crate::idempotency::Mode;
use crate::pipeline::admit::admit_responses;
use crate::pipeline::keyed::{answer_early, read_keyed, refuse, Keyed};
use crate::pipeline::record::Record;
use crate::pipeline::responses::{run, ResponsesJob};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use modelgate_core::openai::ResponsesRequest;

pub async fn responses(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::start(&authed, &request_id.0);
    let Keyed { request, ticket } =
        match read_keyed(&state, &authed, &headers, body, |_: &ResponsesRequest| {
            Mode::Plain
        })
        .await
        {
            Ok(k) => k,
            Err(early) => return answer_early(&state, record, early).await,
        };
    record.inner.model = request.model.clone();
    let admitted = match admit_responses(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, ticket, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    run(
        ResponsesJob {
            state,
            record,
            admitted,
            request,
            mock_fault,
        },
        ticket,
    )
    .await
}
