//! OpenAI chat answers: the `chat.completion` object and the SSE chunk sequence.

use serde_json::{json, Value};

use crate::answer::{fragments, Answer, Finish};
use crate::body::Event;

/// What every object of one answer shares.
pub(crate) struct Meta<'a> {
    pub id: String,
    pub created: u64,
    pub model: &'a str,
    pub seq: u64,
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCall => "tool_calls",
        Finish::Safety => "content_filter",
    }
}

fn usage(a: &Answer) -> Value {
    json!({
        "prompt_tokens": a.prompt_tokens,
        "completion_tokens": a.completion_tokens,
        "total_tokens": a.prompt_tokens + a.completion_tokens,
        "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

fn call_id(seq: u64) -> String {
    format!("call_sim{seq:08}")
}

pub(crate) fn completion(meta: &Meta<'_>, a: &Answer) -> Value {
    let mut message =
        json!({ "role": "assistant", "content": a.text(), "refusal": null, "annotations": [] });
    if let Some(call) = &a.tool_call {
        message["content"] = Value::Null;
        message["tool_calls"] = json!([{
            "id": call_id(meta.seq),
            "type": "function",
            "function": { "name": call.name, "arguments": call.args().to_string() }
        }]);
    }
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(a.finish)
        }],
        "usage": usage(a),
        "service_tier": "default",
        "system_fingerprint": "fp_simulator"
    })
}

/// The chunk sequence: role chunk, one chunk per word (or tool-call fragments),
/// a finish chunk, an optional usage chunk, then `[DONE]`.
pub(crate) fn chunks(meta: &Meta<'_>, a: &Answer, include_usage: bool) -> Vec<Event> {
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut c = json!({
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "system_fingerprint": "fp_simulator",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
        });
        if include_usage {
            // Real streams with include_usage carry "usage": null on every chunk.
            c["usage"] = Value::Null;
        }
        sse(&c)
    };
    let mut events = Vec::new();
    if let Some(call) = &a.tool_call {
        events.push(Event::content(chunk(
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": call_id(meta.seq), "type": "function",
                "function": { "name": call.name, "arguments": "" }
            }]}),
            None,
        )));
        for piece in fragments(&call.args().to_string()) {
            let delta =
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] });
            events.push(Event::content(chunk(delta, None)));
        }
    } else {
        events.push(Event::meta(chunk(
            json!({ "role": "assistant", "content": "", "refusal": null }),
            None,
        )));
        for piece in a.pieces() {
            events.push(Event::content(chunk(json!({ "content": piece }), None)));
        }
    }
    events.push(Event::meta(chunk(json!({}), Some(finish_reason(a.finish)))));
    if include_usage {
        let c = json!({
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "system_fingerprint": "fp_simulator",
            "choices": [],
            "usage": usage(a)
        });
        events.push(Event::meta(sse(&c)));
    }
    events.push(Event::meta("data: [DONE]\n\n"));
    events
}

pub(crate) fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}
