//! POST /v1/chat/completions after admission: dispatch (plain or streamed), response,
//! settlement into the usage record. The work runs in a tracked task so that a client
//! that disconnects is still billed for what was produced (DESIGN §4).

use super::admit::{admit_chat, Admitted};
use super::dispatch::{with_retries, Attempts};
use super::endpoint::{Endpoint, Job};
use super::headers::{deprecation, server_timing};
use super::outcome::{spawn_answer, Ending};
use crate::auth::Authed;
use crate::error_response::error_response;
use crate::idempotency::{Mode, StreamLog, StreamedKey, Ticket};
use crate::sse;
use crate::state::AppState;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use modelgate_core::catalog::Model;
use modelgate_core::money::NanoUsd;
use modelgate_core::openai::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage};
use modelgate_core::pricing::chat_cost;
use modelgate_core::tokens::{chunk_output_upper, completion_output_upper};
use modelgate_core::GatewayError;
use modelgate_providers::{ChatCall, ChatResponse, ChunkStream, ImageCache, UpstreamError};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub type ChatJob = Job<ChatCompletionRequest>;

pub struct Chat;

impl Endpoint for Chat {
    type Request = ChatCompletionRequest;

    fn model(request: &ChatCompletionRequest) -> &str {
        &request.model
    }
    fn mode(request: &Self::Request, last_event_id: Option<u64>) -> Mode {
        if request.is_stream() {
            Mode::Stream { last_event_id }
        } else {
            Mode::Plain
        }
    }

    async fn admit(
        state: &AppState,
        authed: &Authed,
        request: &ChatCompletionRequest,
    ) -> Result<Admitted, GatewayError> {
        admit_chat(state, authed, request).await
    }

    async fn run(job: ChatJob, ticket: Option<Ticket>) -> Response {
        run(job, ticket).await
    }
}

/// Runs the job in a tracked task; a keyed request's answer is stored there too, so a
/// client that disconnects still leaves the answer for its retry (DESIGN §5).
pub async fn run(job: ChatJob, ticket: Option<Ticket>) -> Response {
    if !job.request.is_stream() {
        let state = job.state.clone();
        return spawn_answer(&state, ticket, complete(job)).await;
    }
    let (tx, rx) = oneshot::channel();
    job.state.tasks.clone().spawn(stream_task(job, tx, ticket));
    rx.await.unwrap_or_else(|_| {
        error_response(&GatewayError::internal(
            "the request task ended without an answer",
        ))
    })
}

/// One upstream attempt of either kind; `images` carries what an earlier attempt of
/// this request fetched, so retries do not fetch again (issue 8).
async fn call_upstream(
    job: &ChatJob,
    route: &modelgate_core::catalog::Route,
    images: &ImageCache,
) -> Result<ChatResponse, UpstreamError> {
    let call = ChatCall {
        route,
        request: &job.request,
        canonical_model: &job.admitted.resolved.model.id,
        effort: job.admitted.resolved.effort,
        max_output_tokens: Some(job.admitted.output_limit),
        mock_fault: job.mock_fault.as_deref(),
        fetch: &job.state.config.fetch,
        images,
    };
    job.state.providers.chat(call).await
}

async fn complete(job: ChatJob) -> Response {
    let mut progress = Attempts::default();
    let images = ImageCache::default();
    let result = with_retries(
        &job.state,
        &job.admitted.resolved.model,
        &mut progress,
        |route| {
            let (job, images) = (&job, &images);
            async move {
                match call_upstream(job, &route, images).await? {
                    ChatResponse::Complete(c) => Ok(c),
                    ChatResponse::Stream(_) => Err(UpstreamError::fatal(GatewayError::internal(
                        "a stream answered a plain request",
                    ))),
                }
            }
        },
    )
    .await;
    let ending = Ending::new(job.state, job.record, job.admitted, progress);
    match result {
        Err(e) => ending.failed(&e).await,
        Ok(d) => {
            let completion: ChatCompletion = d.value;
            // §4: an answer without usage is billed at an upper estimate, never zero.
            let usage = completion.usage.clone().unwrap_or_else(|| {
                Usage::new(ending.prompt_upper, completion_output_upper(&completion))
            });
            let cost = chat_cost(&ending.model, &usage);
            ending
                .answered(serde_json::to_vec(&completion), &usage, cost)
                .await
        }
    }
}

/// The opening of a stream: chunks up to and including the first content chunk.
struct Opened {
    head: Vec<ChatCompletionChunk>,
    rest: Option<ChunkStream>,
}

async fn open_stream(
    job: &ChatJob,
    route: modelgate_core::catalog::Route,
    images: &ImageCache,
) -> Result<Opened, UpstreamError> {
    let deadline = tokio::time::Instant::now() + route.provider.first_byte_timeout;
    let mut stream = match call_upstream(job, &route, images).await? {
        ChatResponse::Stream(s) => s,
        ChatResponse::Complete(_) => {
            return Err(UpstreamError::fatal(GatewayError::internal(
                "a plain answer to a stream request",
            )))
        }
    };
    let mut head = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(UpstreamError::retriable(GatewayError::Timeout {
                    model: job.admitted.resolved.model.id.clone(),
                }))
            }
            Ok(None) => return Ok(Opened { head, rest: None }),
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(chunk))) => {
                let opened =
                    chunk.has_content() || chunk.choices.iter().any(|c| c.finish_reason.is_some());
                head.push(chunk);
                if opened {
                    return Ok(Opened {
                        head,
                        rest: Some(stream),
                    });
                }
            }
        }
    }
}

type Commit = oneshot::Sender<Response>;

/// Where a stream's events go: straight to the client, or — for a keyed stream — into
/// its idempotency log, which every client follows (DESIGN §5: resumable streams).
enum StreamOut {
    Client(mpsc::Sender<Bytes>),
    Log(Arc<StreamLog>),
}

impl StreamOut {
    /// Sends one `data:` event; false once the client is gone (never for a log: a
    /// keyed stream runs on so that the retry gets the answer).
    async fn data(&self, payload: &[u8]) -> bool {
        match self {
            StreamOut::Client(tx) => tx.send(sse::data_event(payload)).await.is_ok(),
            StreamOut::Log(log) => {
                log.push_data(payload);
                true
            }
        }
    }

    async fn comment(&self, comment: &'static [u8]) {
        match self {
            StreamOut::Client(tx) => {
                let _ = tx.send(Bytes::from_static(comment)).await;
            }
            StreamOut::Log(log) => log.push_comment(comment),
        }
    }

    async fn end(&self, last: Option<Vec<u8>>) {
        if let Some(event) = last {
            self.data(&event).await;
        }
        self.data(b"[DONE]").await;
        if let StreamOut::Log(log) = self {
            log.finish();
        }
    }
}

/// However the producer ends (a panic included), followers of a keyed stream's log
/// must not wait forever.
impl Drop for StreamOut {
    fn drop(&mut self) {
        if let StreamOut::Log(log) = self {
            log.finish();
        }
    }
}

/// The 200 SSE answer once a stream commits: the client channel, or a follower of
/// the keyed stream's log from its first event.
fn committed(
    state: &AppState,
    client: Option<mpsc::Receiver<Bytes>>,
    log: Option<&Arc<StreamLog>>,
    model: &Model,
    timing: Option<(Duration, Duration)>,
) -> Response {
    let rx = match (client, log) {
        (Some(rx), _) => rx,
        (None, Some(log)) => {
            let (tx, rx) = mpsc::channel(64);
            state.tasks.spawn(Arc::clone(log).follow(0, tx));
            rx
        }
        (None, None) => mpsc::channel(1).1,
    };
    sse_response(rx, model, timing)
}

async fn stream_task(job: ChatJob, commit: Commit, mut ticket: Option<Ticket>) {
    let keepalive = Duration::from_millis(job.state.config.retry.stream_keepalive_ms.max(1));
    let log = ticket.as_ref().and_then(Ticket::log);
    let (out, client_rx) = match &log {
        Some(log) => (StreamOut::Log(Arc::clone(log)), None),
        None => {
            let (tx, rx) = mpsc::channel::<Bytes>(64);
            (StreamOut::Client(tx), Some(rx))
        }
    };
    let mut commit = Some((commit, client_rx));
    let mut streamed: Option<StreamedKey> = None;
    let mut progress = Attempts::default();
    let images = ImageCache::default();
    let opened = {
        let open = with_retries(
            &job.state,
            &job.admitted.resolved.model,
            &mut progress,
            |route| open_stream(&job, route, &images),
        );
        tokio::pin!(open);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        loop {
            tokio::select! {
                r = &mut open => break r,
                _ = ticker.tick() => {
                    // §5: no token yet: commit the 200 and keep the connection alive.
                    if let Some((tx, rx)) = commit.take() {
                        let _ = tx.send(committed(&job.state, rx, log.as_ref(), &job.admitted.resolved.model, None));
                        if let Some(t) = ticket.take() {
                            streamed = Some(t.streamed());
                        }
                    }
                    out.comment(sse::KEEPALIVE).await;
                }
            }
        }
    };
    let ChatJob {
        state,
        mut record,
        admitted,
        request,
        ..
    } = job;
    let Admitted {
        resolved,
        hold,
        admission,
        prompt_upper,
        ..
    } = admitted;
    record.inner.attempts = progress.count;
    record.inner.provider = progress.provider.clone();
    let opened = match opened {
        Ok(d) => d.value,
        Err(e) => {
            drop(hold);
            admission.settle(0);
            match commit.take() {
                Some((tx, _)) => {
                    let mut resp = error_response(&e);
                    if progress.count > 0 {
                        server_timing(
                            record.started.elapsed(),
                            progress.upstream_time,
                            resp.headers_mut(),
                        );
                    }
                    // Keyed: a final refusal is stored, a transient one frees the key.
                    if let Some(t) = ticket.take() {
                        resp = t.finish(resp).await;
                    }
                    let _ = tx.send(resp);
                    record.finish(&state, e.status(), Some(&e)).await;
                }
                None => {
                    forget_if_transient(streamed, &e);
                    out.end(Some(error_event(&e, NanoUsd::ZERO, 0))).await;
                    record.finish(&state, 200, Some(&e)).await;
                }
            }
            return;
        }
    };
    if let Some((tx, rx)) = commit.take() {
        let timing = (record.started.elapsed(), progress.upstream_time);
        let _ = tx.send(committed(
            &state,
            rx,
            log.as_ref(),
            &resolved.model,
            Some(timing),
        ));
        if let Some(t) = ticket.take() {
            streamed = Some(t.streamed());
        }
    }
    let mut relay = Relay {
        out,
        model: Arc::clone(&resolved.model),
        wants_usage: request.wants_usage(),
        usage: None,
        output_upper: 0,
        reported_prompt: None,
        client_gone: false,
    };
    let failure = relay.run(opened).await;
    // Without a final usage report (a cut, a disconnect): the prompt tokens the
    // upstream reported, else the prompt's bound, and what was streamed, never zero
    // (DESIGN §4).
    let usage = relay.usage.clone().unwrap_or_else(|| {
        Usage::new(
            relay.reported_prompt.unwrap_or(prompt_upper),
            relay.output_upper,
        )
    });
    let cost = chat_cost(&resolved.model, &usage);
    // Tokens produced before a disconnect or a failure are billed (DESIGN §4).
    let (cost, charge) = hold.settle(cost);
    record.set_usage(&usage, cost);
    admission.settle(usage.prompt_tokens.saturating_add(usage.completion_tokens));
    match failure {
        None => {
            if !relay.client_gone {
                relay.out.end(None).await;
            }
            record.finish_charged(&state, 200, None, charge).await;
        }
        Some(e) => {
            // Marked before the end, so the log ends as transient everywhere.
            forget_if_transient(streamed, &e);
            relay
                .out
                .end(Some(error_event(&e, cost, usage.completion_tokens)))
                .await;
            record.finish_charged(&state, 200, Some(&e), charge).await;
        }
    }
}

/// Forwards chunks to the client, keeping the usage for billing.
struct Relay {
    out: StreamOut,
    model: Arc<Model>,
    wants_usage: bool,
    usage: Option<Usage>,
    /// Output tokens streamed, at most (for billing without a usage report).
    output_upper: u64,
    /// Prompt tokens the upstream reported before the stream failed.
    reported_prompt: Option<u64>,
    client_gone: bool,
}

impl Relay {
    async fn run(&mut self, opened: Opened) -> Option<GatewayError> {
        for chunk in opened.head {
            if !self.forward(chunk).await {
                return None;
            }
        }
        let mut rest = opened.rest?;
        while let Some(item) = rest.next().await {
            match item {
                Ok(chunk) => {
                    if !self.forward(chunk).await {
                        return None;
                    }
                }
                Err(e) => {
                    self.reported_prompt = e.reported_prompt_tokens;
                    return Some(e.error);
                }
            }
        }
        None
    }

    /// Sends one chunk; false once the client is gone (the upstream is then dropped
    /// and what was streamed so far is billed).
    async fn forward(&mut self, mut chunk: ChatCompletionChunk) -> bool {
        self.output_upper = self.output_upper.saturating_add(chunk_output_upper(&chunk));
        if let Some(usage) = chunk.usage.take() {
            let cost = chat_cost(&self.model, &usage);
            self.usage = Some(usage.clone());
            if self.wants_usage {
                let mut usage = usage;
                usage.extra.insert("cost_usd".into(), cost.to_json());
                chunk.usage = Some(usage);
            } else if chunk.choices.is_empty() {
                return true;
            }
        }
        // The usage chunk carries `cost_usd`: written as a plain decimal.
        let json = if chunk.usage.is_some() {
            modelgate_core::money::to_json_vec(&chunk)
        } else {
            serde_json::to_vec(&chunk)
        };
        let Ok(json) = json else {
            return true;
        };
        if !self.out.data(&json).await {
            self.client_gone = true;
            return false;
        }
        true
    }
}

/// A keyed stream that failed transiently is not kept for replay (DESIGN §5).
fn forget_if_transient(streamed: Option<StreamedKey>, e: &GatewayError) {
    if let Some(key) = streamed.filter(|_| e.retriable()) {
        key.transient();
    }
}

fn error_event(e: &GatewayError, billed: NanoUsd, completion_tokens: u64) -> Vec<u8> {
    let mut body = e.to_body();
    if let Some(err) = body.get_mut("error").and_then(|v| v.as_object_mut()) {
        let details = err.entry("details").or_insert_with(|| json!({}));
        if let Some(d) = details.as_object_mut() {
            d.insert("retryable".into(), json!(e.retriable()));
            d.insert("billed_usd".into(), billed.to_json());
            d.insert("completion_tokens".into(), json!(completion_tokens));
        }
    }
    modelgate_core::money::to_json_vec(&body).unwrap_or_default()
}

fn sse_response(
    rx: mpsc::Receiver<Bytes>,
    model: &Model,
    timing: Option<(Duration, Duration)>,
) -> Response {
    let mut resp = sse::response(rx);
    let h = resp.headers_mut();
    if let Some((total, upstream)) = timing {
        server_timing(total, upstream, h);
    }
    deprecation(model, h);
    resp
}
