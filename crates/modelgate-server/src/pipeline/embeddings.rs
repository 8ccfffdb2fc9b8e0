//! POST /v1/embeddings after admission: dispatch with retries, then the common ending.

use super::admit::{admit_embeddings, Admitted};
use super::dispatch::{with_retries, Attempts};
use super::endpoint::{Endpoint, Job};
use super::outcome::{spawn_answer, Ending};
use crate::auth::Authed;
use crate::idempotency::Ticket;
use crate::state::AppState;
use axum::response::Response;
use modelgate_core::openai::{EmbeddingsRequest, Usage};
use modelgate_core::GatewayError;
use modelgate_providers::EmbeddingsCall;

pub type EmbeddingsJob = Job<EmbeddingsRequest>;

pub struct Embeddings;

impl Endpoint for Embeddings {
    type Request = EmbeddingsRequest;

    fn model(request: &EmbeddingsRequest) -> &str {
        &request.model
    }

    async fn admit(
        state: &AppState,
        authed: &Authed,
        request: &EmbeddingsRequest,
    ) -> Result<Admitted, GatewayError> {
        admit_embeddings(state, authed, request).await
    }

    async fn run(job: EmbeddingsJob, ticket: Option<Ticket>) -> Response {
        run(job, ticket).await
    }
}

pub async fn run(job: EmbeddingsJob, ticket: Option<Ticket>) -> Response {
    let state = job.state.clone();
    spawn_answer(&state, ticket, embed(job)).await
}

async fn embed(job: EmbeddingsJob) -> Response {
    let mut progress = Attempts::default();
    let result = with_retries(
        &job.state,
        &job.admitted.resolved.model,
        &mut progress,
        |route| {
            let job = &job;
            async move {
                let call = EmbeddingsCall {
                    route: &route,
                    request: &job.request,
                    canonical_model: &job.admitted.resolved.model.id,
                    mock_fault: job.mock_fault.as_deref(),
                };
                job.state.providers.embeddings(call).await
            }
        },
    )
    .await;
    let ending = Ending::new(job.state, job.record, job.admitted, progress);
    match result {
        Err(e) => ending.failed(&e).await,
        Ok(d) => {
            let usage = Usage::new(d.value.usage.prompt_tokens, 0);
            let cost = ending.model.pricing.input.cost(usage.prompt_tokens);
            ending
                .answered(serde_json::to_vec(&d.value), &usage, cost)
                .await
        }
    }
}
