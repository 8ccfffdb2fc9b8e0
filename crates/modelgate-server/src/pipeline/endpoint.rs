//! One handler for every JSON model endpoint: body and Idempotency-Key, admission,
//! then the endpoint's own work — each step refusing in the contract's shape and
//! recorded (DESIGN §1). An endpoint says only what differs.

use super::admit::Admitted;
use super::keyed::{answer_early, read_keyed, refuse, Keyed};
use super::record::Record;
use crate::auth::Authed;
use crate::idempotency::{last_event_id, Mode, Ticket};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue};
use modelgate_core::GatewayError;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;

/// An admitted request with everything its work needs.
pub struct Job<R> {
    pub state: AppState,
    pub record: Record,
    /// The resolved model, its hold and rate-limit slots, and the output limit that
    /// was reserved for (sent upstream when the client set none).
    pub admitted: Admitted,
    pub request: R,
    /// `x-mock-fault`, honoured only by the `mock` provider kind.
    pub mock_fault: Option<String>,
}

pub trait Endpoint {
    type Request: DeserializeOwned + Send + Sync + 'static;

    fn model(request: &Self::Request) -> &str;

    /// How an Idempotency-Key applies (streams are resumable).
    fn mode(_request: &Self::Request, _last_event_id: Option<u64>) -> Mode {
        Mode::Plain
    }

    fn admit(
        state: &AppState,
        authed: &Authed,
        request: &Self::Request,
    ) -> impl Future<Output = Result<Admitted, GatewayError>> + Send;

    fn run(
        job: Job<Self::Request>,
        ticket: Option<Ticket>,
    ) -> impl Future<Output = Response> + Send;
}

pub async fn handle<E: Endpoint>(
    state: AppState,
    request_id: RequestId,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limiter = Arc::clone(&state.limiter);
    let (key, account) = (Arc::clone(&authed.key), Arc::clone(&authed.account));
    let mut resp = run_endpoint::<E>(state, request_id, authed, headers, body).await;
    // DESIGN §1: OpenAI's rate-limit headers on every answer, 429 included.
    if let Some(headroom) = limiter.headroom(&Authed { key, account }).await {
        let h = resp.headers_mut();
        for (name, value) in headroom.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    resp
}

async fn run_endpoint<E: Endpoint>(
    state: AppState,
    request_id: RequestId,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::start(&authed, &request_id.0);
    let last_event_id = match last_event_id(&headers) {
        Ok(id) => id,
        Err(e) => return refuse(&state, record, None, e).await,
    };
    let keyed = read_keyed(&state, &authed, &headers, body, |r: &E::Request| {
        E::mode(r, last_event_id)
    })
    .await;
    let Keyed { request, ticket } = match keyed {
        Ok(k) => k,
        Err(early) => return answer_early(&state, record, early).await,
    };
    record.set_requested_model(E::model(&request));
    let admitted = match E::admit(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, ticket, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let job = Job {
        state,
        record,
        admitted,
        request,
        mock_fault,
    };
    E::run(job, ticket).await
}
