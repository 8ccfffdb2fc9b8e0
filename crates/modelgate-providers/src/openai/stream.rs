//! An OpenAI-compatible SSE stream decoded into chunks carrying the canonical model.

use crate::http::{transport_error, SseDecoder};
use crate::{ChunkStream, UpstreamError};
use futures_util::{Stream, StreamExt};
use modelgate_core::openai::ChatCompletionChunk;
use modelgate_core::GatewayError;
use std::pin::Pin;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct State {
    body: ByteStream,
    decoder: SseDecoder,
    model: String,
    finished: bool,
}

pub fn chunks(resp: reqwest::Response, model: String) -> ChunkStream {
    let state = State {
        body: Box::pin(resp.bytes_stream()),
        decoder: SseDecoder::default(),
        model,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        if s.finished {
            return None;
        }
        loop {
            if let Some(event) = s.decoder.next_event() {
                if event.data.trim() == "[DONE]" {
                    return None;
                }
                match parse_chunk(&event.data, &s.model) {
                    Ok(chunk) => return Some((Ok(chunk), s)),
                    Err(e) => {
                        s.finished = true;
                        return Some((Err(e), s));
                    }
                }
            }
            let next = match s.body.next().await {
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
            s.finished = true;
            return Some((Err(next), s));
        }
    }))
}

fn parse_chunk(data: &str, model: &str) -> Result<ChatCompletionChunk, UpstreamError> {
    match serde_json::from_str::<ChatCompletionChunk>(data) {
        Ok(mut chunk) => {
            chunk.model = model.to_owned();
            Ok(chunk)
        }
        Err(_) => {
            // Some compatible servers report a failure as a data event with "error".
            let reason = if data.contains("\"error\"") {
                "the provider reported an error in the middle of the stream."
            } else {
                "the provider sent a malformed stream event."
            };
            Err(UpstreamError::retriable(GatewayError::ProviderError {
                model: model.to_owned(),
                reason: reason.into(),
            }))
        }
    }
}
