//! POST /v1/images/generations after admission: dispatch with retries, then the
//! common ending, billed per image.

use super::admit::{admit_images, Admitted};
use super::dispatch::{with_retries, Attempts};
use super::endpoint::{Endpoint, Job};
use super::outcome::{spawn_answer, Ending};
use crate::auth::Authed;
use crate::idempotency::Ticket;
use crate::state::AppState;
use axum::response::Response;
use modelgate_core::openai::{ImagesRequest, Usage};
use modelgate_core::GatewayError;
use modelgate_providers::ImagesCall;

pub type ImagesJob = Job<ImagesRequest>;

pub struct Images;

impl Endpoint for Images {
    type Request = ImagesRequest;

    fn model(request: &ImagesRequest) -> &str {
        &request.model
    }

    async fn admit(
        state: &AppState,
        authed: &Authed,
        request: &ImagesRequest,
    ) -> Result<Admitted, GatewayError> {
        admit_images(state, authed, request).await
    }

    async fn run(job: ImagesJob, ticket: Option<Ticket>) -> Response {
        run(job, ticket).await
    }
}

pub async fn run(job: ImagesJob, ticket: Option<Ticket>) -> Response {
    let state = job.state.clone();
    spawn_answer(&state, ticket, generate(job)).await
}

async fn generate(job: ImagesJob) -> Response {
    let mut progress = Attempts::default();
    let result = with_retries(
        &job.state,
        &job.admitted.resolved.model,
        &mut progress,
        |route| {
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
        },
    )
    .await;
    let mut ending = Ending::new(job.state, job.record, job.admitted, progress);
    match result {
        Err(e) => ending.failed(&e).await,
        Ok(d) => {
            let images = d.value.data.len() as u64;
            ending.record.inner.images = images;
            let cost = ending.model.pricing.images_cost(images);
            ending
                .answered(serde_json::to_vec(&d.value), &Usage::new(0, 0), cost)
                .await
        }
    }
}
