//! POST /v1/responses after admission: plain answers like embeddings; streams commit
//! with the first upstream event and relay OpenAI's typed events, billing from the
//! usage of `response.completed` (or, cut short, from the deltas seen).

use super::admit::{admit_responses, Admitted};
use super::dispatch::{with_retries, Attempts};
use super::endpoint::{Endpoint, Job};
use super::headers::{deprecation, server_timing};
use super::outcome::{spawn_answer, Ending};
use crate::auth::Authed;
use crate::idempotency::Ticket;
use crate::sse;
use crate::state::AppState;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use modelgate_core::openai::{usage_of, ResponsesRequest, Usage};
use modelgate_core::pricing::chat_cost;
use modelgate_core::GatewayError;
use modelgate_providers::{ResponsesAnswer, ResponsesCall, SseEvent, UpstreamError};
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub type ResponsesJob = Job<ResponsesRequest>;

pub struct Responses;

impl Endpoint for Responses {
    type Request = ResponsesRequest;

    fn model(request: &ResponsesRequest) -> &str {
        &request.model
    }

    async fn admit(
        state: &AppState,
        authed: &Authed,
        request: &ResponsesRequest,
    ) -> Result<Admitted, GatewayError> {
        admit_responses(state, authed, request).await
    }

    async fn run(job: ResponsesJob, ticket: Option<Ticket>) -> Response {
        run(job, ticket).await
    }
}

pub async fn run(job: ResponsesJob, ticket: Option<Ticket>) -> Response {
    let state = job.state.clone();
    spawn_answer(&state, ticket, respond(job)).await
}

/// The upstream answer, for a stream opened up to its first event.
enum Opened {
    Complete(Value),
    Stream(SseEvent, modelgate_providers::EventStream),
}

async fn open(
    job: &ResponsesJob,
    route: modelgate_core::catalog::Route,
) -> Result<Opened, UpstreamError> {
    let call = ResponsesCall {
        route: &route,
        request: &job.request,
        canonical_model: &job.admitted.resolved.model.id,
        max_output_tokens: Some(job.admitted.output_limit),
        mock_fault: job.mock_fault.as_deref(),
    };
    match job.state.providers.responses(call).await? {
        ResponsesAnswer::Complete(v) => Ok(Opened::Complete(v)),
        ResponsesAnswer::Stream(mut s) => {
            let first = tokio::time::timeout(route.provider.first_byte_timeout, s.next()).await;
            match first {
                Err(_) => Err(UpstreamError::retriable(GatewayError::Timeout {
                    model: job.admitted.resolved.model.id.clone(),
                })),
                Ok(Some(Ok(ev))) => Ok(Opened::Stream(ev, s)),
                Ok(Some(Err(e))) => Err(e),
                Ok(None) => Err(UpstreamError::retriable(GatewayError::ProviderError {
                    model: job.admitted.resolved.model.id.clone(),
                    reason: "the provider's stream ended before its first event.".into(),
                })),
            }
        }
    }
}

async fn respond(job: ResponsesJob) -> Response {
    let mut progress = Attempts::default();
    let result = with_retries(
        &job.state,
        &job.admitted.resolved.model,
        &mut progress,
        |route| open(&job, route),
    )
    .await;
    let ending = Ending::new(job.state, job.record, job.admitted, progress);
    let opened = match result {
        Ok(d) => d.value,
        Err(e) => return ending.failed(&e).await,
    };
    match opened {
        Opened::Complete(answer) => {
            let usage = match answer.get("usage") {
                Some(u) if u.is_object() => {
                    let (input, output) = usage_of(&answer);
                    Usage::new(input, output)
                }
                // §4: no usage reported: the prompt's bound and the output's JSON
                // length (longer than its text, so an upper estimate).
                _ => Usage::new(
                    ending.prompt_upper,
                    answer["output"].to_string().len() as u64,
                ),
            };
            let cost = chat_cost(&ending.model, &usage);
            ending
                .answered(serde_json::to_vec(&answer), &usage, cost)
                .await
        }
        Opened::Stream(first, rest) => stream(ending, first, rest),
    }
}

/// Commits the 200 and relays the rest of the events in a tracked task.
fn stream(ending: Ending, first: SseEvent, rest: modelgate_providers::EventStream) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut resp = sse::response(rx);
    let Ending {
        state,
        mut record,
        model,
        hold,
        admission,
        progress,
        prompt_upper,
    } = ending;
    server_timing(
        record.started.elapsed(),
        progress.upstream_time,
        resp.headers_mut(),
    );
    deprecation(&model, resp.headers_mut());
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let (usage, failure) = relay(first, rest, &tx, prompt_upper).await;
        let cost = chat_cost(&model, &usage);
        let (cost, charge) = hold.settle(cost);
        record.set_usage(&usage, cost);
        admission.settle(usage.prompt_tokens.saturating_add(usage.completion_tokens));
        if let Some(e) = &failure {
            let mut body = e.to_body();
            body["type"] = json!("error");
            let _ = tx.send(event_bytes(Some("error"), &body.to_string())).await;
        }
        record
            .finish_charged(&state, 200, failure.as_ref(), charge)
            .await;
    });
    resp
}

fn event_bytes(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(e) = event {
        out.push_str("event: ");
        out.push_str(e);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(data);
    out.push_str("\n\n");
    Bytes::from(out)
}

/// Forwards events until the stream ends; returns the usage to bill and a failure.
/// The usage is the one the upstream reported in `response.completed`,
/// `response.incomplete` or `response.failed`; without one, the prompt's bound and
/// the bytes of the text deltas streamed (DESIGN §4: never zero).
async fn relay(
    first: SseEvent,
    mut rest: modelgate_providers::EventStream,
    tx: &mpsc::Sender<Bytes>,
    prompt_upper: u64,
) -> (Usage, Option<GatewayError>) {
    let mut output_upper = 0u64;
    let mut usage = None;
    let mut failure = None;
    let mut next: Option<Result<SseEvent, UpstreamError>> = Some(Ok(first));
    while let Some(item) = next {
        match item {
            Ok(ev) => {
                output_upper = output_upper.saturating_add(delta_bytes(&ev.data));
                if let Some(reported) = final_usage(&ev.data) {
                    usage = Some(reported);
                }
                if tx
                    .send(event_bytes(ev.event.as_deref(), &ev.data))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e.error);
                break;
            }
        }
        next = rest.next().await;
    }
    let usage = usage.unwrap_or_else(|| Usage::new(prompt_upper, output_upper));
    (usage, failure)
}

/// The text bytes of a `*.delta` event (output text, reasoning, function arguments).
fn delta_bytes(data: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Delta<'a> {
        #[serde(borrow, default)]
        delta: Option<std::borrow::Cow<'a, str>>,
    }
    if !data.contains(".delta\"") {
        return 0;
    }
    serde_json::from_str::<Delta>(data)
        .ok()
        .and_then(|d| d.delta)
        .map_or(0, |d| d.len() as u64)
}

/// The usage of a terminal event, when it reports one.
fn final_usage(data: &str) -> Option<Usage> {
    let terminal = [
        "\"type\":\"response.completed\"",
        "\"type\":\"response.incomplete\"",
        "\"type\":\"response.failed\"",
    ]
    .iter()
    .any(|t| data.contains(t));
    if !terminal {
        return None;
    }
    let v: Value = serde_json::from_str(data).ok()?;
    v["response"]["usage"].is_object().then(|| {
        let (i, o) = usage_of(&v["response"]);
        Usage::new(i, o)
    })
}
