//! `streamGenerateContent?alt=sse` events → OpenAI chunks. Each event is a
//! `GenerateContentResponse` holding the next parts: text deltas, thought deltas
//! (→ `reasoning_content`) and whole `functionCall` parts (→ one tool-call delta
//! with id, name and all arguments). The first sight of a candidate opens it with a
//! role chunk; its `finishReason` closes it with a finish chunk; the latest
//! `usageMetadata` (Gemini repeats it, cumulative) becomes the final usage chunk.

use super::ids::{completion_id, tool_call_id};
use super::response::{arguments, finish_reason, usage};
use super::wire::{GenerateContentResponse, Part};
use modelgate_core::openai::{
    ChatCompletionChunk, ChunkChoice, Delta, FunctionCall, ToolCallDelta, Usage,
};
use serde_json::Map;
use std::collections::BTreeMap;

pub struct StreamMapper {
    /// `chatcmpl-<responseId>` once the first event names it.
    id: Option<String>,
    fallback_id: String,
    model: String,
    created: i64,
    /// Per candidate index.
    choices: BTreeMap<u32, ChoiceState>,
    /// Tool calls so far across candidates (for ids).
    calls: u32,
    usage: Option<Usage>,
}

#[derive(Default)]
struct ChoiceState {
    tool_calls: u32,
    finished: bool,
}

impl StreamMapper {
    /// `fallback_id` names the completion if Gemini sends no `responseId`.
    pub fn new(model: impl Into<String>, created: i64, fallback_id: impl Into<String>) -> Self {
        StreamMapper {
            id: None,
            fallback_id: fallback_id.into(),
            model: model.into(),
            created,
            choices: BTreeMap::new(),
            calls: 0,
            usage: None,
        }
    }

    pub fn on_event(&mut self, ev: GenerateContentResponse) -> Vec<ChatCompletionChunk> {
        if self.id.is_none() {
            self.id = Some(completion_id(ev.response_id.as_deref(), &self.fallback_id));
        }
        if let Some(u) = &ev.usage_metadata {
            self.usage = Some(usage(u));
        }
        let mut out = Vec::new();
        let blocked = ev
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref());
        if ev.candidates.is_empty() && blocked.is_some() {
            // A prompt blocked before generation: an empty, filtered answer (§2).
            self.open(0, &mut out);
            self.close(0, "content_filter", &mut out);
            return out;
        }
        for (pos, c) in ev.candidates.iter().enumerate() {
            let index = c.index.unwrap_or(pos as u32);
            self.open(index, &mut out);
            for part in c.content.iter().flat_map(|c| c.parts.iter()) {
                if let Some(delta) = self.delta(index, part) {
                    out.push(self.chunk(index, delta, None));
                }
            }
            if let Some(reason) = &c.finish_reason {
                let calls = self.choices.get(&index).is_some_and(|s| s.tool_calls > 0);
                self.close(index, finish_reason(reason, calls), &mut out);
            }
        }
        out
    }

    /// Whether every candidate seen has finished: a stream that ends before this
    /// was cut off.
    pub fn is_complete(&self) -> bool {
        !self.choices.is_empty() && self.choices.values().all(|s| s.finished)
    }

    /// The closing usage chunk (`choices: []`), when Gemini reported usage.
    pub fn usage_chunk(&self) -> Option<ChatCompletionChunk> {
        let mut chunk = self.chunk(0, Delta::default(), None);
        chunk.choices.clear();
        chunk.usage = Some(self.usage.clone()?);
        Some(chunk)
    }

    /// The usage reported so far (all of it once the stream is complete).
    pub fn finish(self) -> Usage {
        self.usage.unwrap_or_default()
    }

    fn open(&mut self, index: u32, out: &mut Vec<ChatCompletionChunk>) {
        if self.choices.contains_key(&index) {
            return;
        }
        self.choices.insert(index, ChoiceState::default());
        let role = Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
            ..Delta::default()
        };
        out.push(self.chunk(index, role, None));
    }

    fn close(&mut self, index: u32, reason: &str, out: &mut Vec<ChatCompletionChunk>) {
        let state = self.choices.entry(index).or_default();
        if state.finished {
            return;
        }
        state.finished = true;
        out.push(self.chunk(index, Delta::default(), Some(reason)));
    }

    fn delta(&mut self, index: u32, part: &Part) -> Option<Delta> {
        if let Some(f) = &part.function_call {
            let id = tool_call_id(self.id(), self.calls, part.thought_signature.as_deref());
            self.calls += 1;
            let state = self.choices.entry(index).or_default();
            let call = ToolCallDelta {
                index: state.tool_calls,
                id: Some(id),
                kind: Some("function".into()),
                function: Some(FunctionCall {
                    name: Some(f.name.clone()),
                    arguments: arguments(&f.args),
                }),
            };
            state.tool_calls += 1;
            return Some(Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            });
        }
        let text = part.text.as_ref().filter(|t| !t.is_empty())?.clone();
        Some(if part.is_thought() {
            Delta {
                reasoning_content: Some(text),
                ..Delta::default()
            }
        } else {
            Delta {
                content: Some(text),
                ..Delta::default()
            }
        })
    }

    fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.fallback_id)
    }

    fn chunk(&self, index: u32, delta: Delta, finish: Option<&str>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id().to_owned(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index,
                delta,
                finish_reason: finish.map(str::to_owned),
                extra: Map::new(),
            }],
            usage: None,
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::SseDecoder;
    use serde_json::{json, Value};

    /// Feeds a recorded `alt=sse` transcript through the decoder and the mapper, as
    /// `mod.rs` does, and returns the chunks as JSON (usage chunk last).
    fn run(transcript: &str) -> (Vec<Value>, bool) {
        let mut decoder = SseDecoder::default();
        let mut mapper = StreamMapper::new(
            "google/gemini-2.5-flash",
            1_700_000_000,
            "chatcmpl-fallback",
        );
        let mut chunks = Vec::new();
        // Split across reads at an awkward place, as the network does.
        let (a, b) = transcript.split_at(transcript.len() / 3);
        for piece in [a, b] {
            decoder.push(piece.as_bytes());
            while let Some(ev) = decoder.next_event() {
                let ev: GenerateContentResponse = serde_json::from_str(&ev.data).unwrap();
                chunks.extend(mapper.on_event(ev));
            }
        }
        let complete = mapper.is_complete();
        chunks.extend(mapper.usage_chunk());
        (
            chunks
                .iter()
                .map(|c| serde_json::to_value(c).unwrap())
                .collect(),
            complete,
        )
    }

    fn check(transcript: &str, expected: &str) {
        let (got, complete) = run(transcript);
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert!(complete);
        assert_eq!(
            Value::Array(got.clone()),
            expected["chunks"],
            "got: {:#}",
            Value::Array(got)
        );
    }

    #[test]
    fn text_with_thoughts() {
        check(
            include_str!("../../tests/fixtures/gemini/stream_text.sse"),
            include_str!("../../tests/fixtures/gemini/stream_text.expected.json"),
        );
    }

    #[test]
    fn function_call() {
        check(
            include_str!("../../tests/fixtures/gemini/stream_function_call.sse"),
            include_str!("../../tests/fixtures/gemini/stream_function_call.expected.json"),
        );
    }

    #[test]
    fn safety_block_without_content() {
        check(
            include_str!("../../tests/fixtures/gemini/stream_safety.sse"),
            include_str!("../../tests/fixtures/gemini/stream_safety.expected.json"),
        );
    }

    #[test]
    fn prompt_block_finishes_the_stream() {
        let mut m = StreamMapper::new("m", 1, "chatcmpl-x");
        let ev: GenerateContentResponse = serde_json::from_value(json!({
            "promptFeedback": {"blockReason": "OTHER"},
            "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}
        }))
        .unwrap();
        let chunks = m.on_event(ev);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1].choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
        assert!(m.is_complete());
        assert_eq!(m.finish(), Usage::new(3, 0));
    }

    #[test]
    fn a_stream_cut_before_its_finish_is_incomplete() {
        let (chunks, complete) = run("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}], \"role\": \"model\"}, \"index\": 0}], \"responseId\": \"cut\"}\r\n\r\n");
        assert!(!complete);
        assert_eq!(chunks.len(), 2, "role and one text chunk, no usage");
        let empty = StreamMapper::new("m", 1, "x");
        assert!(!empty.is_complete());
    }
}
