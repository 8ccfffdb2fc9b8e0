//! The `anthropic` kind: the Messages API (`{base_url}/v1/messages`,
//! `anthropic-version: 2023-06-01`). The OpenAI hub request is translated to a
//! native one (`request.rs`), the answer or the SSE events back to OpenAI shapes
//! (`response.rs`, `stream.rs`), failures into the contract (`error.rs`). This file
//! is the thin async part: URL, headers, send, and the SSE loop feeding the mapper.

mod error;
mod request;
mod response;
pub(crate) mod stream;
pub(crate) mod wire;

pub use error::map_error;

use crate::http::{parse_answer, post_json, transport_error, Auth, JsonPost, SseDecoder};
use crate::{ChatCall, ChatResponse, ChunkStream, UpstreamError};
use futures_util::{Stream, StreamExt};
use modelgate_core::openai::ChatCompletionChunk;
use modelgate_core::GatewayError;
use request::Target;
use std::collections::VecDeque;
use std::pin::Pin;
use stream::StreamMapper;

const API_VERSION: &str = "2023-06-01";

pub async fn chat(
    client: &reqwest::Client,
    call: &ChatCall<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let spec = &call.route.provider;
    let model = call.canonical_model;
    let native =
        request::to_native(call.request, &Target::of(call)).map_err(UpstreamError::fatal)?;
    let body =
        serde_json::to_vec(&native).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))?;
    let post = JsonPost {
        url: format!("{}/v1/messages", spec.base_url.trim_end_matches('/')),
        body,
        auth: Auth::Header("x-api-key"),
        headers: &[("anthropic-version", API_VERSION)],
    };
    let resp = post_json(client, spec, post, model, map_error).await?;
    let created = modelgate_core::time_fmt::now_unix();
    if call.request.is_stream() {
        return Ok(ChatResponse::Stream(chunks(resp, model, created)));
    }
    let native: wire::MessagesResponse = parse_answer(resp, model).await?;
    Ok(ChatResponse::Complete(response::to_completion(
        native, model, created,
    )))
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct State {
    body: ByteStream,
    decoder: SseDecoder,
    mapper: StreamMapper,
    pending: VecDeque<ChatCompletionChunk>,
    model: String,
    failed: bool,
}

fn chunks(resp: reqwest::Response, model: &str, created: i64) -> ChunkStream {
    let state = State {
        body: Box::pin(resp.bytes_stream()),
        decoder: SseDecoder::default(),
        mapper: StreamMapper::new(model, created),
        pending: VecDeque::new(),
        model: model.to_owned(),
        failed: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(chunk) = s.pending.pop_front() {
                return Some((Ok(chunk), s));
            }
            // Nothing is read after message_stop or after a failure.
            if s.failed || s.mapper.is_done() {
                return None;
            }
            if let Some(event) = s.decoder.next_event() {
                match s.mapper.on_sse(&event.data) {
                    Ok(chunks) => s.pending.extend(chunks),
                    Err(e) => return Some(s.fail(e)),
                }
                continue;
            }
            let err = match s.body.next().await {
                Some(Ok(bytes)) => {
                    s.decoder.push(&bytes);
                    continue;
                }
                Some(Err(e)) => transport_error(&e, &s.model),
                None => UpstreamError::retriable(GatewayError::ProviderError {
                    model: s.model.clone(),
                    reason: "the provider's stream ended before it was complete.".into(),
                }),
            };
            return Some(s.fail(err));
        }
    }))
}

impl State {
    /// Ends the stream after a failure, which carries the prompt tokens the upstream
    /// had reported (`message_start`) so that they, not a bound, are billed.
    fn fail(mut self, mut e: UpstreamError) -> (Result<ChatCompletionChunk, UpstreamError>, Self) {
        self.failed = true;
        let mapper = std::mem::replace(&mut self.mapper, StreamMapper::new(&self.model, 0));
        let seen = mapper.finish();
        e.reported_prompt_tokens = (seen.prompt_tokens > 0).then_some(seen.prompt_tokens);
        (Err(e), self)
    }
}
