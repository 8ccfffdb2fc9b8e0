//! POST /v1/images/generations after admission: dispatch with retries, response,
//! settlement per image. Like chat, the work runs in a tracked task.

use super::admit::Admitted;
use super::dispatch::{with_retries, Attempts};
use super::headers::{deprecation, server_timing};
use super::record::Record;
use crate::error_response::error_response;
use crate::idempotency::Ticket;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use modelgate_core::openai::{ImagesRequest, Usage};
use modelgate_core::GatewayError;
use modelgate_providers::ImagesCall;
use tokio::sync::oneshot;

pub struct ImagesJob {
    pub state: AppState,
    pub record: Record,
    pub admitted: Admitted,
    pub request: ImagesRequest,
    pub mock_fault: Option<String>,
}

pub async fn run(job: ImagesJob, ticket: Option<Ticket>) -> Response {
    let (tx, rx) = oneshot::channel();
    job.state.tasks.clone().spawn(async move {
        let resp = generate(job).await;
        let resp = match ticket {
            Some(t) => t.finish(resp).await,
            None => resp,
        };
        let _ = tx.send(resp);
    });
    rx.await.unwrap_or_else(|_| {
        error_response(&GatewayError::internal(
            "the request task ended without an answer",
        ))
    })
}

async fn generate(job: ImagesJob) -> Response {
    let mut progress = Attempts::default();
    let model = &job.admitted.resolved.model;
    let result = with_retries(&job.state, model, &mut progress, |route| {
        let job = &job;
        async move {
            let call = ImagesCall {
                route: &route,
                request: &job.request,
                canonical_model: &job.admitted.resolved.model.id,
                mock_fault: job.mock_fault.as_deref(),
            };
            job.state.providers.images(call).await
        }
    })
    .await;
    let ImagesJob {
        state,
        mut record,
        admitted,
        ..
    } = job;
    let Admitted {
        resolved,
        hold,
        admission,
        ..
    } = admitted;
    record.inner.attempts = progress.count;
    record.inner.provider = progress.provider.clone();
    let answer = match result {
        Ok(d) => d.value,
        Err(e) => {
            drop(hold);
            admission.settle(0);
            let mut resp = error_response(&e);
            if progress.count > 0 {
                server_timing(
                    record.started.elapsed(),
                    progress.upstream_time,
                    resp.headers_mut(),
                );
            }
            record.finish(&state, e.status(), Some(&e)).await;
            return resp;
        }
    };
    let images = answer.data.len() as u64;
    let cost = resolved.model.pricing.images_cost(images);
    record.inner.images = images;
    record.set_usage(&Usage::new(0, 0), cost);
    let charge = hold.settle(cost);
    admission.settle(0);
    let body = match serde_json::to_vec(&answer) {
        Ok(b) => b,
        Err(e) => {
            let e = GatewayError::internal(e);
            record.finish_charged(&state, 500, Some(&e), charge).await;
            return error_response(&e);
        }
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&cost.to_usd_string()) {
        h.insert("x-modelgate-cost-usd", v);
    }
    server_timing(record.started.elapsed(), progress.upstream_time, h);
    deprecation(&resolved.model, h);
    record.finish_charged(&state, 200, None, charge).await;
    resp
}
