//! A Messages answer → `ChatCompletion` with the client's canonical model ID: text
//! blocks joined into `content`, `tool_use` → `tool_calls` (input re-encoded as the
//! arguments string), `thinking` → `reasoning_content`; redacted thinking and server
//! tool blocks are left out.

use super::wire::{MessagesResponse, NativeUsage, ResponseBlock};
use modelgate_core::openai::{
    AssistantMessage, ChatCompletion, Choice, FunctionCall, ToolCall, Usage,
};
use serde_json::{json, Map};

pub fn to_completion(native: MessagesResponse, model: &str, created: i64) -> ChatCompletion {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in native.content {
        match block {
            ResponseBlock::Text { text: t } => text.push_str(&t),
            ResponseBlock::Thinking { thinking } => reasoning.push_str(&thinking),
            ResponseBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name: Some(name),
                    arguments: input.to_string(),
                },
            }),
            ResponseBlock::Unknown => {}
        }
    }
    let content = match (text.is_empty(), tool_calls.is_empty()) {
        // OpenAI sends null content beside tool calls.
        (true, false) => None,
        _ => Some(text),
    };
    ChatCompletion {
        id: format!("chatcmpl-{}", native.id),
        object: "chat.completion".into(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                extra: Map::new(),
            },
            finish_reason: Some(finish_reason(native.stop_reason.as_deref()).into()),
            extra: Map::new(),
        }],
        usage: Some(usage(&native.usage)),
        extra: Map::new(),
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn (a server tool paused the turn) and
        // anything new end the answer normally.
        _ => "stop",
    }
}

/// Prompt tokens include cache writes and reads (Anthropic counts them apart from
/// `input_tokens`); reads are also reported as OpenAI's `cached_tokens`.
pub fn usage(native: &NativeUsage) -> Usage {
    let cached = native.cache_read_input_tokens.unwrap_or(0);
    // Saturating: absurd counts from an upstream must neither panic nor wrap to a
    // small bill (issue 8).
    let prompt = native
        .input_tokens
        .unwrap_or(0)
        .saturating_add(native.cache_creation_input_tokens.unwrap_or(0))
        .saturating_add(cached);
    let mut usage = Usage::new(prompt, native.output_tokens.unwrap_or(0));
    usage.extra.insert(
        "prompt_tokens_details".into(),
        json!({ "cached_tokens": cached }),
    );
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const MODEL: &str = "anthropic/claude-sonnet-4.5";

    /// Each fixture holds the native answer and the expected completion.
    fn check(fixture: &str) {
        let case: Value = serde_json::from_str(fixture).unwrap();
        let native: MessagesResponse = serde_json::from_value(case["native"].clone()).unwrap();
        let got = serde_json::to_value(to_completion(native, MODEL, 1_760_000_000)).unwrap();
        assert_eq!(
            got,
            case["expected"],
            "{}",
            serde_json::to_string_pretty(&got).unwrap()
        );
    }

    #[test]
    fn text_answer() {
        check(include_str!(
            "../../tests/fixtures/anthropic/response_text.json"
        ));
    }

    #[test]
    fn tool_use_answer() {
        check(include_str!(
            "../../tests/fixtures/anthropic/response_tool_use.json"
        ));
    }

    #[test]
    fn thinking_answer_with_cache_usage() {
        check(include_str!(
            "../../tests/fixtures/anthropic/response_thinking.json"
        ));
    }

    #[test]
    fn refusal_answer() {
        check(include_str!(
            "../../tests/fixtures/anthropic/response_refusal.json"
        ));
    }

    #[test]
    fn stop_reasons() {
        let cases = [
            (Some("end_turn"), "stop"),
            (Some("stop_sequence"), "stop"),
            (Some("pause_turn"), "stop"),
            (Some("max_tokens"), "length"),
            (Some("model_context_window_exceeded"), "length"),
            (Some("tool_use"), "tool_calls"),
            (Some("refusal"), "content_filter"),
            (Some("something_new"), "stop"),
            (None, "stop"),
        ];
        for (native, want) in cases {
            assert_eq!(finish_reason(native), want, "{native:?}");
        }
    }

    #[test]
    fn usage_counts_cache_writes_and_reads_as_prompt() {
        let native: NativeUsage = serde_json::from_value(json!({
            "input_tokens": 12, "output_tokens": 30,
            "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000
        }))
        .unwrap();
        let got = serde_json::to_value(usage(&native)).unwrap();
        assert_eq!(
            got,
            json!({
                "prompt_tokens": 2112, "completion_tokens": 30, "total_tokens": 2142,
                "prompt_tokens_details": { "cached_tokens": 2000 }
            })
        );
        let nulls: NativeUsage = serde_json::from_value(json!({
            "input_tokens": 5, "output_tokens": 1,
            "cache_creation_input_tokens": null, "cache_read_input_tokens": null
        }))
        .unwrap();
        assert_eq!(
            (usage(&nulls).prompt_tokens, usage(&nulls).total_tokens),
            (5, 6)
        );
    }
}
