//! Property tests of the stream path (issue 8): the SSE decoder and the Anthropic
//! and Gemini stream mappers give the same chunks however the network splits a
//! recorded transcript, and no event, however malformed, makes them panic. The
//! error mappers never panic on any status and body either.

use crate::anthropic::stream::StreamMapper as AnthropicMapper;
use crate::gemini::stream::StreamMapper as GeminiMapper;
use crate::gemini::wire::GenerateContentResponse;
use crate::http::{SseDecoder, SseEvent};
use crate::UpstreamError;
use modelgate_core::openai::Usage;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::Duration;

const ANTHROPIC: &[&str] = &[
    include_str!("../tests/fixtures/anthropic/stream_text.sse"),
    include_str!("../tests/fixtures/anthropic/stream_thinking_tools.sse"),
    include_str!("../tests/fixtures/anthropic/stream_overloaded.sse"),
    include_str!("../tests/fixtures/anthropic/stream_truncated.sse"),
];

const GEMINI: &[&str] = &[
    include_str!("../tests/fixtures/gemini/stream_text.sse"),
    include_str!("../tests/fixtures/gemini/stream_function_call.sse"),
    include_str!("../tests/fixtures/gemini/stream_safety.sse"),
];

/// What the decoder must get right beyond the fixtures: CRLF, comments, multi-line
/// data, fields without a value, multi-byte characters, a last event without its
/// blank line.
const SYNTHETIC: &str = "event: a\r\ndata: {\"x\":\r\ndata:1}\r\n\r\n: keep-alive\n\nid: 7\nretry: 10\ndata\n\nevent: é😀\ndata: 中文 😀\n\nevent: orphan\n\ndata: [DONE]\n\ndata: tail";

/// `bytes` cut at `cuts` (positions taken modulo its length, in any order).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fn decode(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut d = SseDecoder::default();
    let mut out = Vec::new();
    for p in pieces {
        d.push(p);
        while let Some(ev) = d.next_event() {
            out.push(ev);
        }
    }
    out
}

/// What a stream gave: its chunks as JSON, the failure that ended it, whether it
/// finished, the usage seen.
#[derive(Debug, PartialEq)]
struct Outcome {
    chunks: Vec<Value>,
    error: Option<(u16, &'static str, bool)>,
    complete: bool,
    usage: Usage,
}

fn error_key(e: &UpstreamError) -> (u16, &'static str, bool) {
    (e.error.status(), e.error.error_type(), e.retriable)
}

/// As `anthropic/mod.rs` does: decode, map, stop at the first failure.
fn anthropic_run(pieces: &[&[u8]]) -> Outcome {
    let mut decoder = SseDecoder::default();
    let mut mapper = AnthropicMapper::new("anthropic/claude-sonnet-4.5", 1_760_000_000);
    let (mut chunks, mut error) = (Vec::new(), None);
    'read: for p in pieces {
        decoder.push(p);
        while let Some(ev) = decoder.next_event() {
            match mapper.on_sse(&ev.data) {
                Ok(more) => chunks.extend(more.iter().map(|c| json!(c))),
                Err(e) => {
                    error = Some(error_key(&e));
                    break 'read;
                }
            }
        }
    }
    Outcome {
        chunks,
        error,
        complete: mapper.is_done(),
        usage: mapper.finish(),
    }
}

/// As `gemini/mod.rs` does: an `error` event or bad JSON ends the stream; a last
/// event without its blank line still counts.
fn gemini_run(pieces: &[&[u8]]) -> Outcome {
    let mut decoder = SseDecoder::default();
    let mut mapper = GeminiMapper::new("google/gemini-2.5-flash", 1_700_000_000, "fallback");
    let (mut chunks, mut error) = (Vec::new(), None);
    let eof: &[u8] = b"\n\n";
    'read: for p in pieces.iter().chain([&eof]) {
        decoder.push(p);
        while let Some(ev) = decoder.next_event() {
            match serde_json::from_str::<GenerateContentResponse>(&ev.data) {
                Ok(GenerateContentResponse { error: Some(_), .. }) | Err(_) => {
                    error = Some((502, "provider_error", true));
                    break 'read;
                }
                Ok(ev) => chunks.extend(mapper.on_event(ev).iter().map(|c| json!(c))),
            }
        }
    }
    let complete = mapper.is_complete();
    chunks.extend(mapper.usage_chunk().iter().map(|c| json!(c)));
    Outcome {
        chunks,
        error,
        complete,
        usage: mapper.finish(),
    }
}

/// Token counts an upstream may send, the absurd ones included.
fn count() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0..100_000u64).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::Null),
        Just(json!(-1)),
        Just(json!("12")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ a-z{}\\[\\]\":,é😀\n\r\u{0}]{0,16}",
        1 => any::<String>(),
    ]
}

fn usage_json() -> impl Strategy<Value = Value> {
    (count(), count(), count(), count()).prop_map(|(i, o, cw, cr)| {
        json!({"input_tokens": i, "output_tokens": o,
               "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr})
    })
}

/// Anthropic events of every type, with any index, text and usage, sometimes ill-typed.
fn anthropic_event() -> impl Strategy<Value = String> {
    let index = prop_oneof![0..4u32, any::<u32>()];
    let block = prop_oneof![
        text().prop_map(|t| json!({"type": "text", "text": t})),
        text().prop_map(|t| json!({"type": "thinking", "thinking": t})),
        (text(), text()).prop_map(
            |(id, name)| json!({"type": "tool_use", "id": id, "name": name, "input": {}})
        ),
        text().prop_map(|t| json!({"type": t})),
    ];
    let delta = prop_oneof![
        text().prop_map(|t| json!({"type": "text_delta", "text": t})),
        text().prop_map(|t| json!({"type": "thinking_delta", "thinking": t})),
        text().prop_map(|t| json!({"type": "input_json_delta", "partial_json": t})),
        text().prop_map(|t| json!({"type": "signature_delta", "signature": t})),
    ];
    let stop = prop::sample::select(
        &[
            "end_turn",
            "max_tokens",
            "tool_use",
            "refusal",
            "pause_turn",
            "",
            "?",
        ][..],
    );
    prop_oneof![
        (text(), usage_json()).prop_map(|(id, u)| {
            json!({"type": "message_start", "message": {"id": id, "usage": u}}).to_string()
        }),
        (index.clone(), block).prop_map(|(i, b)| {
            json!({"type": "content_block_start", "index": i, "content_block": b}).to_string()
        }),
        (index.clone(), delta).prop_map(|(i, d)| {
            json!({"type": "content_block_delta", "index": i, "delta": d}).to_string()
        }),
        index.prop_map(|i| json!({"type": "content_block_stop", "index": i}).to_string()),
        (stop, usage_json()).prop_map(|(s, u)| {
            json!({"type": "message_delta", "delta": {"stop_reason": s}, "usage": u}).to_string()
        }),
        Just(json!({"type": "message_stop"}).to_string()),
        Just(json!({"type": "ping"}).to_string()),
        (text(), text()).prop_map(|(k, m)| {
            json!({"type": "error", "error": {"type": k, "message": m}}).to_string()
        }),
        text(),
    ]
}

/// Gemini events: candidates with any index, parts of every kind, any usage.
fn gemini_event() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        text().prop_map(|t| json!({"text": t})),
        text().prop_map(|t| json!({"text": t, "thought": true})),
        (text(), text()).prop_map(
            |(n, s)| json!({"functionCall": {"name": n, "args": {"a": 1}}, "thoughtSignature": s})
        ),
        text().prop_map(|n| json!({"functionCall": {"name": n}})),
    ];
    let reason = prop::option::of(prop::sample::select(
        &[
            "STOP",
            "MAX_TOKENS",
            "SAFETY",
            "RECITATION",
            "OTHER",
            "MALFORMED_FUNCTION_CALL",
            "",
        ][..],
    ));
    let candidate = (
        prop::option::of(prop_oneof![0..3u32, any::<u32>()]),
        prop::collection::vec(part, 0..3),
        reason,
    )
        .prop_map(|(i, parts, r)| json!({"index": i, "content": {"role": "model", "parts": parts}, "finishReason": r}));
    let usage =
        (count(), count(), count(), count(), count()).prop_map(|(p, c, t, cached, tool)| {
            json!({"promptTokenCount": p, "candidatesTokenCount": c, "thoughtsTokenCount": t,
               "cachedContentTokenCount": cached, "toolUsePromptTokenCount": tool})
        });
    prop_oneof![
        4 => (
            prop::collection::vec(candidate, 0..3),
            prop::option::of(usage),
            prop::option::of(text()),
            prop::option::of(prop::sample::select(&["SAFETY", "OTHER"][..])),
        )
            .prop_map(|(c, u, id, block)| {
                json!({"candidates": c, "usageMetadata": u, "responseId": id,
                       "promptFeedback": block.map(|b| json!({"blockReason": b}))})
                .to_string()
            }),
        1 => text(),
    ]
}

fn as_sse(events: &[String]) -> String {
    events.iter().map(|e| format!("data: {e}\n\n")).collect()
}

fn usage_is_consistent(u: &Usage) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        u.total_tokens,
        u.prompt_tokens.saturating_add(u.completion_tokens),
        "{:?}",
        u
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_decoder_ignores_where_reads_split(
        which in 0..ANTHROPIC.len() + GEMINI.len() + 1,
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let all: Vec<&str> = ANTHROPIC.iter().chain(GEMINI).chain([&SYNTHETIC]).copied().collect();
        let bytes = all[which].as_bytes();
        prop_assert_eq!(decode(&pieces(bytes, &cuts)), decode(&[bytes]));
    }

    #[test]
    fn the_decoder_ignores_where_reads_split_in_garbage(
        bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b'\r'), Just(b':')], 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        prop_assert_eq!(decode(&pieces(&bytes, &cuts)), decode(&[&bytes]));
    }

    #[test]
    fn anthropic_chunks_ignore_where_reads_split(
        which in 0..ANTHROPIC.len(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let bytes = ANTHROPIC[which].as_bytes();
        prop_assert_eq!(anthropic_run(&pieces(bytes, &cuts)), anthropic_run(&[bytes]));
    }

    #[test]
    fn gemini_chunks_ignore_where_reads_split(
        which in 0..GEMINI.len(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let bytes = GEMINI[which].as_bytes();
        prop_assert_eq!(gemini_run(&pieces(bytes, &cuts)), gemini_run(&[bytes]));
    }

    #[test]
    fn anthropic_garbage_never_panics(events in prop::collection::vec(anthropic_event(), 0..12)) {
        // Each event alone (a failure ends a run), and all in one stream.
        for e in &events {
            let mut m = AnthropicMapper::new("m", 0);
            let _ = m.on_sse(e);
            usage_is_consistent(&m.finish())?;
        }
        let out = anthropic_run(&[as_sse(&events).as_bytes()]);
        usage_is_consistent(&out.usage)?;
        if let Some((status, _, _)) = out.error {
            prop_assert!(matches!(status, 400..=599), "{}", status);
        }
    }

    #[test]
    fn gemini_garbage_never_panics(events in prop::collection::vec(gemini_event(), 0..12)) {
        let mut m = GeminiMapper::new("m", 0, "x");
        for e in &events {
            if let Ok(ev) = serde_json::from_str::<GenerateContentResponse>(e) {
                let _ = m.on_event(ev);
            }
        }
        let _ = m.is_complete();
        if let Some(c) = m.usage_chunk() {
            usage_is_consistent(c.usage.as_ref().unwrap())?;
        }
        usage_is_consistent(&m.finish())?;
        let out = gemini_run(&[as_sse(&events).as_bytes()]);
        usage_is_consistent(&out.usage)?;
    }

    #[test]
    fn error_mappers_never_panic(
        status in prop_oneof![400..600u16, any::<u16>()],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            (text(), text(), text()).prop_map(|(k, m, c)| json!({"error": {"type": k, "message": m, "code": c, "status": k}, "type": "error"}).to_string().into_bytes()),
        ],
        retry_ms in prop::option::of(any::<u64>()),
    ) {
        let retry = retry_ms.map(Duration::from_millis);
        let maps: [crate::http::MapError; 3] = [crate::openai::map_error, crate::anthropic::map_error, crate::gemini::map_error];
        for map in maps {
            let e = map(status, &body, retry, "test/model");
            let body = e.error.to_body();
            prop_assert!(matches!(e.error.status(), 400..=599), "{}", body);
            prop_assert!(body["error"]["message"].as_str().is_some_and(|m| m.ends_with('.')), "{}", body);
        }
    }
}

/// Regression (found by `*_garbage_never_panics`): usage counts near u64::MAX from
/// an upstream overflowed the prompt sum (a panic in debug, a wrapped, tiny bill in
/// release). They saturate now.
#[test]
fn absurd_upstream_usage_saturates() {
    let mut m = AnthropicMapper::new("m", 0);
    let start = json!({"type": "message_start", "message": {"id": "x", "usage": {
        "input_tokens": u64::MAX, "cache_creation_input_tokens": 2,
        "cache_read_input_tokens": 3, "output_tokens": u64::MAX}}});
    m.on_sse(&start.to_string()).unwrap();
    let u = m.finish();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (u64::MAX, u64::MAX, u64::MAX)
    );

    let mut m = GeminiMapper::new("m", 0, "x");
    let ev = json!({"usageMetadata": {"promptTokenCount": u64::MAX, "toolUsePromptTokenCount": 2,
        "candidatesTokenCount": u64::MAX, "thoughtsTokenCount": 5}});
    let _ = m.on_event(serde_json::from_value(ev).unwrap());
    let u = m.finish();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (u64::MAX, u64::MAX, u64::MAX)
    );
}
