//! The `gemini` kind: Google's Gemini API (`generateContent`,
//! `streamGenerateContent?alt=sse`), translated from and to the OpenAI hub types.
//! This file is the thin async part: fetching remote images through the SSRF guard
//! (once per request, kept on the call's `ImageCache` for the retries), the URL and
//! key header, sending, and the SSE loop feeding `StreamMapper`.
//! The key goes in `x-goog-api-key`, never in the URL (URLs end up in logs).

mod error;
mod ids;
mod parts;
mod request;
mod response;
mod schema;
pub(crate) mod stream;
pub(crate) mod wire;

pub use error::map_error;

use crate::http::{parse_answer, post_json, transport_error, Auth, JsonPost, SseDecoder};
use crate::{ChatCall, ChatResponse, ChunkStream, UpstreamError};
use futures_util::{Stream, StreamExt};
use modelgate_core::openai::ChatCompletionChunk;
use modelgate_core::GatewayError;
use response::Meta;
use std::collections::VecDeque;
use std::pin::Pin;
use stream::StreamMapper;
use wire::GenerateContentResponse;

pub async fn chat(
    client: &reqwest::Client,
    call: &ChatCall<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let spec = &call.route.provider;
    let model = call.canonical_model;
    let images = call
        .images
        .get_or_fetch(parts::remote_images(call.request), call.fetch)
        .await?;
    let native = request::to_native(call, images).map_err(UpstreamError::fatal)?;
    let body =
        serde_json::to_vec(&native).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))?;
    let stream = call.request.is_stream();
    let method = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    let url = format!(
        "{}/v1beta/models/{}:{method}",
        spec.base_url.trim_end_matches('/'),
        call.route.upstream_model
    );
    let post = JsonPost {
        url,
        body,
        auth: Auth::Header("x-goog-api-key"),
        headers: &[],
    };
    let resp = post_json(client, spec, post, model, map_error).await?;
    let created = modelgate_core::time_fmt::now_unix();
    let fallback_id = ids::random_suffix();
    if stream {
        let mapper = StreamMapper::new(model, created, ids::completion_id(None, &fallback_id));
        return Ok(ChatResponse::Stream(chunks(resp, mapper, model.to_owned())));
    }
    let parsed: GenerateContentResponse = parse_answer(resp, model).await?;
    let meta = Meta {
        id: ids::completion_id(parsed.response_id.as_deref(), &fallback_id),
        model: model.to_owned(),
        created,
    };
    Ok(ChatResponse::Complete(response::to_completion(
        parsed, &meta,
    )?))
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct State {
    body: ByteStream,
    decoder: SseDecoder,
    mapper: StreamMapper,
    model: String,
    pending: VecDeque<Result<ChatCompletionChunk, UpstreamError>>,
    eof: bool,
    done: bool,
}

fn chunks(resp: reqwest::Response, mapper: StreamMapper, model: String) -> ChunkStream {
    let state = State {
        body: Box::pin(resp.bytes_stream()),
        decoder: SseDecoder::default(),
        mapper,
        model,
        pending: VecDeque::new(),
        eof: false,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.pending.pop_front() {
                return Some((item, s));
            }
            if s.done {
                return None;
            }
            s.step().await;
        }
    }))
}

impl State {
    /// Decodes the next event, or reads more bytes, queueing what results.
    async fn step(&mut self) {
        if let Some(event) = self.decoder.next_event() {
            self.on_data(&event.data);
            return;
        }
        if self.eof {
            self.done = true;
            if self.mapper.is_complete() {
                self.pending.extend(self.mapper.usage_chunk().map(Ok));
            } else {
                let e = malformed(
                    &self.model,
                    "the provider's stream ended before it was complete.",
                );
                self.fail(e);
            }
            return;
        }
        match self.body.next().await {
            Some(Ok(bytes)) => self.decoder.push(&bytes),
            Some(Err(e)) => self.fail(transport_error(&e, &self.model)),
            // A last event without its blank line still counts.
            None => {
                self.decoder.push(b"\n\n");
                self.eof = true;
            }
        }
    }

    fn on_data(&mut self, data: &str) {
        match serde_json::from_str::<GenerateContentResponse>(data) {
            Ok(GenerateContentResponse {
                error: Some(err), ..
            }) => {
                let status = error::event_status(&err);
                let body = serde_json::json!({ "error": err }).to_string();
                self.fail(map_error(status, body.as_bytes(), None, &self.model));
            }
            Ok(ev) => self
                .pending
                .extend(self.mapper.on_event(ev).into_iter().map(Ok)),
            Err(_) => self.fail(malformed(
                &self.model,
                "the provider sent a malformed stream event.",
            )),
        }
    }

    /// Ends the stream after a failure, which carries the prompt tokens the upstream
    /// had reported (`usageMetadata`) so that they, not a bound, are billed.
    fn fail(&mut self, mut e: UpstreamError) {
        self.done = true;
        let mapper = std::mem::replace(&mut self.mapper, StreamMapper::new("", 0, ""));
        let seen = mapper.finish();
        e.reported_prompt_tokens = (seen.prompt_tokens > 0).then_some(seen.prompt_tokens);
        self.pending.push_back(Err(e));
    }
}

fn malformed(model: &str, reason: &str) -> UpstreamError {
    UpstreamError::retriable(GatewayError::ProviderError {
        model: model.to_owned(),
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests;
