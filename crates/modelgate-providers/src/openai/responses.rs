//! POST {base}/responses on an OpenAI-compatible upstream: passthrough with the model
//! rewritten both ways, plain or as its SSE stream of typed events.

use super::error::map_error;
use crate::http::{parse_answer, post_json, transport_error, Auth, JsonPost, SseDecoder};
use crate::{EventStream, ResponsesAnswer, ResponsesCall, SseEvent, UpstreamError};
use futures_util::StreamExt;
use modelgate_core::GatewayError;
use serde_json::Value;

pub async fn responses(
    client: &reqwest::Client,
    call: &ResponsesCall<'_>,
) -> Result<ResponsesAnswer, UpstreamError> {
    let spec = &call.route.provider;
    let model = call.canonical_model;
    let mut native = call.request.clone();
    native.model = call.route.upstream_model.clone();
    if native.max_output_tokens.is_none() {
        native.max_output_tokens = call.max_output_tokens;
    }
    let body =
        serde_json::to_vec(&native).map_err(|e| UpstreamError::fatal(GatewayError::internal(e)))?;
    let post = JsonPost {
        url: format!("{}/responses", spec.base_url),
        body,
        auth: Auth::Bearer,
        headers: &[],
    };
    let resp = post_json(client, spec, post, model, map_error).await?;
    if call.request.is_stream() {
        return Ok(ResponsesAnswer::Stream(events(resp, model.to_owned())));
    }
    let mut answer: Value = parse_answer(resp, model).await?;
    answer["model"] = Value::String(model.to_owned());
    Ok(ResponsesAnswer::Complete(answer))
}

/// Rewrites the model in an event's response object, wherever the event carries one.
pub fn canonical_event(data: &str, model: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(data).ok()?;
    if let Some(r) = v.get_mut("response").and_then(Value::as_object_mut) {
        r.insert("model".into(), Value::String(model.to_owned()));
    }
    serde_json::to_string(&v).ok()
}

fn events(resp: reqwest::Response, model: String) -> EventStream {
    let body = resp.bytes_stream();
    let state = (Box::pin(body), SseDecoder::default(), model, false);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut body, mut decoder, model, mut ended)| async move {
            if ended {
                return None;
            }
            loop {
                if let Some(ev) = decoder.next_event() {
                    let Some(data) = canonical_event(&ev.data, &model) else {
                        let e = UpstreamError::retriable(GatewayError::ProviderError {
                            model: model.clone(),
                            reason: "the provider sent a malformed stream event.".into(),
                        });
                        return Some((Err(e), (body, decoder, model, true)));
                    };
                    let terminal = data.contains("\"type\":\"response.completed\"")
                        || data.contains("\"type\":\"response.failed\"")
                        || data.contains("\"type\":\"response.incomplete\"");
                    ended = terminal;
                    return Some((
                        Ok(SseEvent {
                            event: ev.event,
                            data,
                        }),
                        (body, decoder, model, ended),
                    ));
                }
                match body.next().await {
                    Some(Ok(bytes)) => decoder.push(&bytes),
                    Some(Err(e)) => {
                        let e = transport_error(&e, &model);
                        return Some((Err(e), (body, decoder, model, true)));
                    }
                    None => {
                        let e = UpstreamError::retriable(GatewayError::ProviderError {
                            model: model.clone(),
                            reason: "the provider's stream ended before it was complete.".into(),
                        });
                        return Some((Err(e), (body, decoder, model, true)));
                    }
                }
            }
        },
    ))
}
