//! Responses API answers from the mock: the echo of the input's last text, words as
//! tokens; streamed as OpenAI's typed events, one `response.output_text.delta` per word.

use super::fault::Fault;
use crate::{ResponsesAnswer, ResponsesCall, SseEvent, UpstreamError};
use serde_json::{json, Value};
use std::time::Duration;

pub async fn responses(call: &ResponsesCall<'_>) -> Result<ResponsesAnswer, UpstreamError> {
    let fault = Fault::parse(call.mock_fault.unwrap_or(""))?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(err) = fault.failure(call.canonical_model) {
        return Err(err);
    }
    let texts = call.request.texts();
    let input_tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let last = call
        .request
        .input
        .as_str()
        .map(str::to_owned)
        .or_else(|| texts.first().map(|t| (*t).to_owned()))
        .unwrap_or_default();
    let mut words: Vec<String> = last.split_whitespace().map(str::to_owned).collect();
    if words.is_empty() {
        words.push("ok".into());
    }
    if let Some(limit) = call
        .request
        .max_output_tokens
        .or(call.max_output_tokens)
        .and_then(|l| usize::try_from(l).ok())
    {
        words.truncate(limit.max(1));
    }
    let id = format!("resp_mock{:016x}", fastrand::u64(..));
    let text = words.join(" ");
    let done = response(
        &id,
        call.canonical_model,
        "completed",
        &text,
        (input_tokens, words.len()),
    );
    if !call.request.is_stream() {
        return Ok(ResponsesAnswer::Complete(done));
    }
    let item = format!("msg_{id}");
    let mut events = vec![(
        "response.created",
        json!({"response": response(&id, call.canonical_model, "in_progress", "", (0, 0))}),
    )];
    events.push(("response.output_item.added", json!({"output_index": 0, "item": {"type": "message", "id": item, "status": "in_progress", "role": "assistant", "content": []}})));
    events.push(("response.content_part.added", json!({"item_id": item, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})));
    let last_index = words.len() - 1;
    for (i, w) in words.iter().enumerate() {
        let delta = if i < last_index {
            format!("{w} ")
        } else {
            w.clone()
        };
        events.push((
            "response.output_text.delta",
            json!({"item_id": item, "output_index": 0, "content_index": 0, "delta": delta}),
        ));
    }
    events.push((
        "response.output_text.done",
        json!({"item_id": item, "output_index": 0, "content_index": 0, "text": text}),
    ));
    events.push(("response.completed", json!({"response": done})));
    let stream = events.into_iter().enumerate().map(|(n, (kind, mut body))| {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(n);
        Ok(SseEvent {
            event: Some(kind.to_owned()),
            data: body.to_string(),
        })
    });
    Ok(ResponsesAnswer::Stream(Box::pin(
        futures_util::stream::iter(stream.collect::<Vec<_>>()),
    )))
}

fn response(
    id: &str,
    model: &str,
    status: &str,
    text: &str,
    (input, output): (usize, usize),
) -> Value {
    let output_items = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "message", "id": format!("msg_{id}"), "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}])
    };
    json!({
        "id": id, "object": "response", "created_at": modelgate_core::time_fmt::now_unix(),
        "status": status, "model": model, "output": output_items,
        "usage": {"input_tokens": input, "output_tokens": output, "total_tokens": input + output},
    })
}
