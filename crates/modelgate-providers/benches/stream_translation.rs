//! Per-chunk cost of stream translation: one upstream SSE `data:` payload parsed,
//! mapped to OpenAI chunks and serialised, as the gateway does for every event.
//! `openai_passthrough` is the baseline: the `openai` kind only rewrites `model`.
//! Run: `cargo bench -p modelgate-providers --bench stream_translation`.

use criterion::{criterion_group, criterion_main, Criterion};
use modelgate_core::openai::ChatCompletionChunk;
use modelgate_providers::stream_translation::{Anthropic, Gemini};
use std::hint::black_box;

const ANTHROPIC_START: &str = r#"{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#;
const ANTHROPIC_BLOCK: &str =
    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
const ANTHROPIC_DELTA: &str = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello there, "}}"#;
const GEMINI_DELTA: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello there, "}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"resp-1"}"#;
const OPENAI_DELTA: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello there, "},"finish_reason":null}]}"#;

fn serialise(chunks: &[ChatCompletionChunk]) -> usize {
    chunks
        .iter()
        .map(|c| serde_json::to_vec(c).map(|v| v.len()).unwrap_or(0))
        .sum()
}

fn per_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_chunk");
    let mut anthropic = Anthropic::new("anthropic/claude-sonnet-4.5");
    anthropic.on_data(ANTHROPIC_START);
    anthropic.on_data(ANTHROPIC_BLOCK);
    group.bench_function("anthropic_text_delta", |b| {
        b.iter(|| serialise(&anthropic.on_data(black_box(ANTHROPIC_DELTA))))
    });
    let mut gemini = Gemini::new("google/gemini-2.5-flash");
    gemini.on_data(GEMINI_DELTA);
    group.bench_function("gemini_text_delta", |b| {
        b.iter(|| serialise(&gemini.on_data(black_box(GEMINI_DELTA))))
    });
    group.bench_function("openai_passthrough", |b| {
        b.iter(|| {
            let mut chunk: ChatCompletionChunk =
                serde_json::from_str(black_box(OPENAI_DELTA)).unwrap_or_else(|_| unreachable!());
            chunk.model = "openai/gpt-4o".into();
            serialise(std::slice::from_ref(&chunk))
        })
    });
    group.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
