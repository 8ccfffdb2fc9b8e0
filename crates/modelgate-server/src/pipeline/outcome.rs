//! How every non-streamed request ends, in one place: the work runs in a tracked task
//! (a disconnect loses neither the answer for an idempotent retry nor the usage
//! record); a failure releases the hold and answers the contract's error; an answer
//! settles the hold and the rate limits, and carries its cost, timing and deprecation
//! headers.

use super::admit::Admitted;
use super::dispatch::Attempts;
use super::headers::{deprecation, server_timing};
use super::record::Record;
use crate::billing::Hold;
use crate::error_response::error_response;
use crate::idempotency::Ticket;
use crate::limits::Admission;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use modelgate_core::catalog::Model;
use modelgate_core::money::NanoUsd;
use modelgate_core::openai::Usage;
use modelgate_core::GatewayError;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Runs `work` in a tracked task; a keyed request's answer is stored by its ticket there.
pub async fn spawn_answer<F>(state: &AppState, ticket: Option<Ticket>, work: F) -> Response
where
    F: Future<Output = Response> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    state.tasks.spawn(async move {
        let resp = work.await;
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

/// What a request holds when its upstream work is over.
pub struct Ending {
    pub state: AppState,
    pub record: Record,
    pub model: Arc<Model>,
    pub hold: Hold,
    pub admission: Admission,
    pub progress: Attempts,
    /// The prompt's upper bound: billed when the upstream reports no usage.
    pub prompt_upper: u64,
}

impl Ending {
    pub fn new(
        state: AppState,
        mut record: Record,
        admitted: Admitted,
        progress: Attempts,
    ) -> Ending {
        record.inner.attempts = progress.count;
        record.inner.provider = progress.provider.clone();
        Ending {
            state,
            record,
            model: admitted.resolved.model,
            hold: admitted.hold,
            admission: admitted.admission,
            progress,
            prompt_upper: admitted.prompt_upper,
        }
    }

    /// Nothing was produced: nothing is billed, the error is the answer.
    pub async fn failed(self, e: &GatewayError) -> Response {
        drop(self.hold);
        self.admission.settle(0);
        let mut resp = error_response(e);
        if self.progress.count > 0 {
            server_timing(
                self.record.started.elapsed(),
                self.progress.upstream_time,
                resp.headers_mut(),
            );
        }
        self.record.finish(&self.state, e.status(), Some(e)).await;
        resp
    }

    /// A JSON answer: `usage` and `cost` are billed, the rest of the hold released.
    pub async fn answered(
        mut self,
        body: Result<Vec<u8>, serde_json::Error>,
        usage: &Usage,
        cost: NanoUsd,
    ) -> Response {
        let (cost, charge) = self.hold.settle(cost);
        self.record.set_usage(usage, cost);
        self.admission
            .settle(usage.prompt_tokens.saturating_add(usage.completion_tokens));
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let e = GatewayError::internal(e);
                self.record
                    .finish_charged(&self.state, 500, Some(&e), charge)
                    .await;
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
        server_timing(
            self.record.started.elapsed(),
            self.progress.upstream_time,
            h,
        );
        deprecation(&self.model, h);
        self.record
            .finish_charged(&self.state, 200, None, charge)
            .await;
        resp
    }
}
