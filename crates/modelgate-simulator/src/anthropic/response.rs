//! Anthropic answers: the `message` object and the streaming event sequence.

use serde_json::{json, Value};

use crate::answer::{fragments, pieces, words, Answer, Finish};
use crate::body::Event;

/// The fixed thinking text for requests with extended thinking.
pub(crate) const THINKING: &str = "The user wants an echo.";
const SIGNATURE: &str = "c2ltdWxhdG9yLXNpZ25hdHVyZQ==";

pub(crate) struct Meta<'a> {
    pub id: String,
    pub model: &'a str,
    pub seq: u64,
    pub thinking: bool,
}

fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCall => "tool_use",
        Finish::Safety => "refusal",
    }
}

/// Output tokens: the answer's words plus the thinking text's.
pub(crate) fn output_tokens(meta: &Meta<'_>, a: &Answer) -> u64 {
    let thinking = if meta.thinking && a.finish != Finish::Safety {
        words(THINKING).len() as u64
    } else {
        0
    };
    a.completion_tokens + thinking
}

fn usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output
    })
}

fn tool_id(seq: u64) -> String {
    format!("toolu_sim{seq:08}")
}

pub(crate) fn message(meta: &Meta<'_>, a: &Answer) -> Value {
    let mut content = Vec::new();
    if a.finish != Finish::Safety {
        if meta.thinking {
            content
                .push(json!({ "type": "thinking", "thinking": THINKING, "signature": SIGNATURE }));
        }
        match &a.tool_call {
            Some(call) => content.push(json!({
                "type": "tool_use", "id": tool_id(meta.seq), "name": call.name, "input": call.args()
            })),
            None => content.push(json!({ "type": "text", "text": a.text() })),
        }
    }
    json!({
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": content,
        "stop_reason": stop_reason(a.finish),
        "stop_sequence": null,
        "usage": usage(a.prompt_tokens, output_tokens(meta, a))
    })
}

pub(crate) fn sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// One content block: its start, its deltas (content events), extra meta deltas, stop.
fn block(
    events: &mut Vec<Event>,
    index: usize,
    start: Value,
    deltas: Vec<Value>,
    tail: Vec<Value>,
) {
    let start = json!({ "type": "content_block_start", "index": index, "content_block": start });
    events.push(Event::meta(sse("content_block_start", &start)));
    if index == 0 {
        // The real API pings right after the first block opens.
        events.push(Event::meta(sse("ping", &json!({ "type": "ping" }))));
    }
    for d in deltas {
        let d = json!({ "type": "content_block_delta", "index": index, "delta": d });
        events.push(Event::content(sse("content_block_delta", &d)));
    }
    for d in tail {
        let d = json!({ "type": "content_block_delta", "index": index, "delta": d });
        events.push(Event::meta(sse("content_block_delta", &d)));
    }
    let stop = json!({ "type": "content_block_stop", "index": index });
    events.push(Event::meta(sse("content_block_stop", &stop)));
}

/// message_start, the blocks (thinking, then text or tool_use), message_delta, message_stop.
pub(crate) fn events(meta: &Meta<'_>, a: &Answer) -> Vec<Event> {
    let mut start = message(meta, a);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = usage(a.prompt_tokens, 1);
    let mut events = vec![Event::meta(sse(
        "message_start",
        &json!({ "type": "message_start", "message": start }),
    ))];
    let mut index = 0;
    if a.finish == Finish::Safety {
        events.push(Event::meta(sse("ping", &json!({ "type": "ping" }))));
    } else {
        if meta.thinking {
            let deltas = pieces(&words(THINKING))
                .into_iter()
                .map(|t| json!({ "type": "thinking_delta", "thinking": t }))
                .collect();
            let tail = vec![json!({ "type": "signature_delta", "signature": SIGNATURE })];
            block(
                &mut events,
                index,
                json!({ "type": "thinking", "thinking": "", "signature": "" }),
                deltas,
                tail,
            );
            index += 1;
        }
        match &a.tool_call {
            Some(call) => {
                let startb = json!({ "type": "tool_use", "id": tool_id(meta.seq), "name": call.name, "input": {} });
                let deltas = fragments(&call.args().to_string())
                    .into_iter()
                    .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
                    .collect();
                block(&mut events, index, startb, deltas, Vec::new());
            }
            None => {
                let deltas = a
                    .pieces()
                    .into_iter()
                    .map(|t| json!({ "type": "text_delta", "text": t }))
                    .collect();
                block(
                    &mut events,
                    index,
                    json!({ "type": "text", "text": "" }),
                    deltas,
                    Vec::new(),
                );
            }
        }
    }
    let delta = json!({
        "type": "message_delta",
        "delta": { "stop_reason": stop_reason(a.finish), "stop_sequence": null },
        "usage": { "output_tokens": output_tokens(meta, a) }
    });
    events.push(Event::meta(sse("message_delta", &delta)));
    events.push(Event::meta(sse(
        "message_stop",
        &json!({ "type": "message_stop" }),
    )));
    events
}
