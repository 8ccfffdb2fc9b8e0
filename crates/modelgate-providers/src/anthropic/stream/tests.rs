use super::*;
use crate::http::SseDecoder;
use serde_json::{json, Value};

const MODEL: &str = "anthropic/claude-sonnet-4.5";
const CREATED: i64 = 1_760_000_000;

struct Run {
    chunks: Vec<ChatCompletionChunk>,
    error: Option<UpstreamError>,
    done: bool,
    usage: Usage,
}

/// Feeds a recorded transcript through the SSE decoder in small reads (events split
/// across reads, as on the wire) and the mapper, as `mod.rs` does.
fn run(transcript: &str) -> Run {
    let mut decoder = SseDecoder::default();
    let mut mapper = StreamMapper::new(MODEL, CREATED);
    let mut chunks = Vec::new();
    let mut error = None;
    'read: for piece in transcript.as_bytes().chunks(7) {
        decoder.push(piece);
        while let Some(event) = decoder.next_event() {
            match mapper.on_sse(&event.data) {
                Ok(more) => chunks.extend(more),
                Err(e) => {
                    error = Some(e);
                    break 'read;
                }
            }
        }
    }
    let done = mapper.is_done();
    Run {
        chunks,
        error,
        done,
        usage: mapper.finish(),
    }
}

/// Every chunk carries the message's ID, the canonical model and `created`; the
/// rest (choices, usage) must match the expected file exactly.
fn assert_chunks(chunks: &[ChatCompletionChunk], expected: &str) {
    let expected: Value = serde_json::from_str(expected).unwrap();
    let want = expected["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), want.len(), "{chunks:#?}");
    for (i, (chunk, want)) in chunks.iter().zip(want).enumerate() {
        let mut got = serde_json::to_value(chunk).unwrap();
        let head = got.as_object_mut().unwrap();
        assert_eq!(head.remove("id").unwrap(), expected["id"], "chunk {i}");
        assert_eq!(head.remove("object").unwrap(), "chat.completion.chunk");
        assert_eq!(head.remove("model").unwrap(), MODEL);
        assert_eq!(head.remove("created").unwrap(), CREATED);
        assert_eq!(&got, want, "chunk {i}");
    }
}

#[test]
fn text_stream() {
    let r = run(include_str!(
        "../../../tests/fixtures/anthropic/stream_text.sse"
    ));
    assert!(r.error.is_none() && r.done);
    assert_chunks(
        &r.chunks,
        include_str!("../../../tests/fixtures/anthropic/stream_text.expected.json"),
    );
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (35, 15));
}

#[test]
fn thinking_and_tool_call_stream() {
    let r = run(include_str!(
        "../../../tests/fixtures/anthropic/stream_thinking_tools.sse"
    ));
    assert!(r.error.is_none() && r.done);
    assert_chunks(
        &r.chunks,
        include_str!("../../../tests/fixtures/anthropic/stream_thinking_tools.expected.json"),
    );
    // The streamed argument fragments of each tool call concatenate into valid JSON.
    let mut arguments = [String::new(), String::new()];
    for chunk in &r.chunks {
        for choice in &chunk.choices {
            for call in choice.delta.tool_calls.iter().flatten() {
                let f = call.function.as_ref().unwrap();
                arguments[call.index as usize].push_str(&f.arguments);
            }
        }
    }
    let parsed: Vec<Value> = arguments
        .iter()
        .map(|a| serde_json::from_str(a).unwrap())
        .collect();
    assert_eq!(
        parsed,
        [
            json!({ "location": "San Francisco, CA", "unit": "fahrenheit" }),
            json!({})
        ]
    );
}

#[test]
fn error_event_fails_the_stream_retriably() {
    let r = run(include_str!(
        "../../../tests/fixtures/anthropic/stream_overloaded.sse"
    ));
    let contents: Vec<_> = r
        .chunks
        .iter()
        .map(|c| c.choices[0].delta.content.clone())
        .collect();
    assert_eq!(contents, [Some(String::new()), Some("Once upon".into())]);
    let e = r.error.unwrap();
    assert!(e.retriable);
    assert_eq!(
        (e.error.status(), e.error.error_type()),
        (502, "provider_error")
    );
    assert!(!r.done);
}

#[test]
fn truncated_stream_is_not_done() {
    let r = run(include_str!(
        "../../../tests/fixtures/anthropic/stream_truncated.sse"
    ));
    assert!(r.error.is_none());
    assert!(!r.done, "mod.rs turns this into a retriable provider_error");
    assert_eq!(r.chunks.len(), 2);
    assert!(r.chunks.iter().all(|c| c.usage.is_none()));
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (8, 1));
}

#[test]
fn malformed_event_is_a_retriable_provider_error() {
    let mut mapper = StreamMapper::new(MODEL, CREATED);
    let e = mapper.on_sse("{not json").unwrap_err();
    assert!(e.retriable);
    assert_eq!(e.error.status(), 502);
}

#[test]
fn role_chunk_comes_first_even_without_message_start() {
    let mut mapper = StreamMapper::new(MODEL, CREATED);
    let chunks = mapper
        .on_sse(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        )
        .unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(chunks[1].choices[0].delta.content.as_deref(), Some("Hi"));
    assert!(!chunks[0].has_content() && chunks[1].has_content());
}

#[test]
fn stop_reasons_in_the_stream() {
    for (stop, want) in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
    ] {
        let mut mapper = StreamMapper::new(MODEL, CREATED);
        let data = json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop, "stop_sequence": null },
            "usage": { "output_tokens": 3 }
        });
        let chunks = mapper.on_sse(&data.to_string()).unwrap();
        let last = chunks.last().unwrap();
        assert_eq!(
            last.choices[0].finish_reason.as_deref(),
            Some(want),
            "{stop}"
        );
    }
}
