//! Gemini answers: `GenerateContentResponse` objects, whole or as stream chunks.

use serde_json::{json, Value};

use crate::answer::{Answer, Finish};
use crate::body::Event;

pub(crate) struct Meta<'a> {
    pub response_id: String,
    pub model: &'a str,
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        // Gemini reports STOP for function calls too.
        Finish::Stop | Finish::ToolCall => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::Safety => "SAFETY",
    }
}

fn usage(a: &Answer) -> Value {
    json!({
        "promptTokenCount": a.prompt_tokens,
        "candidatesTokenCount": a.completion_tokens,
        "totalTokenCount": a.prompt_tokens + a.completion_tokens,
        "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": a.prompt_tokens }]
    })
}

fn safety_ratings() -> Value {
    json!([
        { "category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE" },
        { "category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true },
        { "category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE" },
        { "category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE" }
    ])
}

/// A response around one candidate; `finish` and `usage` only on the last chunk.
fn response(
    meta: &Meta<'_>,
    parts: Option<Value>,
    finish: Option<Finish>,
    usage: Option<Value>,
) -> Value {
    let mut candidate = json!({ "index": 0 });
    if let Some(parts) = parts {
        candidate["content"] = json!({ "parts": parts, "role": "model" });
    }
    if let Some(f) = finish {
        candidate["finishReason"] = json!(finish_reason(f));
        if f == Finish::Safety {
            candidate["safetyRatings"] = safety_ratings();
        }
    }
    let mut r = json!({
        "candidates": [candidate],
        "modelVersion": meta.model,
        "responseId": meta.response_id
    });
    if let Some(u) = usage {
        r["usageMetadata"] = u;
    }
    r
}

fn answer_parts(a: &Answer) -> Option<Value> {
    match (&a.tool_call, a.finish) {
        (_, Finish::Safety) => None,
        (Some(call), _) => {
            Some(json!([{ "functionCall": { "name": call.name, "args": call.args() } }]))
        }
        (None, _) => Some(json!([{ "text": a.text() }])),
    }
}

pub(crate) fn whole(meta: &Meta<'_>, a: &Answer) -> Value {
    response(meta, answer_parts(a), Some(a.finish), Some(usage(a)))
}

/// The stream chunks: one per word (or one function call), then a final chunk with
/// an empty text part, the finish reason and usage. A safety block is one chunk.
pub(crate) fn chunks(meta: &Meta<'_>, a: &Answer) -> Vec<Value> {
    let mut out = Vec::new();
    if a.finish == Finish::Safety {
        out.push(response(meta, None, Some(a.finish), Some(usage(a))));
    } else {
        match &a.tool_call {
            Some(_) => out.push(response(meta, answer_parts(a), None, None)),
            None => {
                for piece in a.pieces() {
                    out.push(response(meta, Some(json!([{ "text": piece }])), None, None));
                }
            }
        }
        let last = response(
            meta,
            Some(json!([{ "text": "" }])),
            Some(a.finish),
            Some(usage(a)),
        );
        out.push(last);
    }
    out
}

/// Which chunks carry content (all but the final one, and none for a safety block).
pub(crate) fn frame(chunks: Vec<Value>, safety: bool, sse: bool) -> Vec<Event> {
    let n = chunks.len();
    let mut events: Vec<Event> = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let text = match (sse, i) {
                // Google ends SSE events with CRLF pairs.
                (true, _) => format!("data: {c}\r\n\r\n"),
                (false, 0) => format!("[{c}"),
                (false, _) => format!(",\r\n{c}"),
            };
            if i + 1 < n && !safety {
                Event::content(text)
            } else {
                Event::meta(text)
            }
        })
        .collect();
    if !sse {
        events.push(Event::meta("]"));
    }
    events
}
