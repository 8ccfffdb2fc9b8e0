//! Gemini `GenerateContentResponse` → OpenAI `ChatCompletion`: one choice per
//! candidate; text → `content`, thought summaries → `reasoning_content`,
//! `functionCall` parts → `tool_calls`; `finishReason` and `usageMetadata` mapped;
//! a prompt blocked before any candidate is an empty `content_filter` answer.
//! Other part kinds (inline images, executable code, citations) are dropped.

use super::ids::tool_call_id;
use super::wire::{Candidate, GenerateContentResponse, Part, UsageMetadata};
use crate::UpstreamError;
use modelgate_core::openai::{
    AssistantMessage, ChatCompletion, Choice, FunctionCall, ToolCall, Usage,
};
use modelgate_core::GatewayError;
use serde_json::{json, Map};

/// What a translated answer carries that Gemini does not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `chatcmpl-…` (see `ids::completion_id`).
    pub id: String,
    /// The client's canonical model ID.
    pub model: String,
    pub created: i64,
}

pub fn to_completion(
    resp: GenerateContentResponse,
    meta: &Meta,
) -> Result<ChatCompletion, UpstreamError> {
    let blocked = resp
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
        .is_some();
    if resp.candidates.is_empty() && !blocked {
        return Err(UpstreamError::retriable(GatewayError::ProviderError {
            model: meta.model.clone(),
            reason: "the provider's answer held no candidates.".into(),
        }));
    }
    let mut next_call = 0;
    let mut choices: Vec<Choice> = resp
        .candidates
        .iter()
        .enumerate()
        .map(|(pos, c)| choice(c, pos, meta, &mut next_call))
        .collect();
    if choices.is_empty() {
        // §2: a blocked prompt is an answer with nothing in it, not an error.
        choices.push(Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content: Some(String::new()),
                ..AssistantMessage::default()
            },
            finish_reason: Some("content_filter".into()),
            extra: Map::new(),
        });
    }
    Ok(ChatCompletion {
        id: meta.id.clone(),
        object: "chat.completion".into(),
        created: meta.created,
        model: meta.model.clone(),
        choices,
        usage: resp.usage_metadata.as_ref().map(usage),
        extra: Map::new(),
    })
}

fn choice(c: &Candidate, pos: usize, meta: &Meta, next_call: &mut u32) -> Choice {
    let parts: &[Part] = c.content.as_ref().map_or(&[], |c| c.parts.as_slice());
    let (mut text, mut thoughts, mut calls) = (String::new(), String::new(), Vec::new());
    for p in parts {
        if let Some(f) = &p.function_call {
            calls.push(ToolCall {
                id: tool_call_id(&meta.id, *next_call, p.thought_signature.as_deref()),
                kind: "function".into(),
                function: FunctionCall {
                    name: Some(f.name.clone()),
                    arguments: arguments(&f.args),
                },
            });
            *next_call += 1;
        } else if let Some(t) = &p.text {
            if p.is_thought() {
                thoughts.push_str(t);
            } else {
                text.push_str(t);
            }
        }
    }
    let reason = finish_reason(
        c.finish_reason.as_deref().unwrap_or("STOP"),
        !calls.is_empty(),
    );
    Choice {
        index: c.index.unwrap_or(pos as u32),
        message: AssistantMessage {
            role: "assistant".into(),
            // OpenAI sends null content beside tool calls.
            content: (!text.is_empty() || calls.is_empty()).then_some(text),
            tool_calls: (!calls.is_empty()).then_some(calls),
            reasoning_content: (!thoughts.is_empty()).then_some(thoughts),
            extra: Map::new(),
        },
        finish_reason: Some(reason.into()),
        extra: Map::new(),
    }
}

/// `args` as the JSON string OpenAI clients parse (`{}` when Gemini sent none).
pub fn arguments(args: &serde_json::Value) -> String {
    if args.is_null() {
        return "{}".into();
    }
    args.to_string()
}

/// Gemini's `finishReason` as OpenAI's. Gemini says STOP after function calls too;
/// reasons with no OpenAI counterpart (OTHER, MALFORMED_FUNCTION_CALL, unknown ones)
/// end the answer as `stop`.
pub fn finish_reason(gemini: &str, has_tool_calls: bool) -> &'static str {
    match gemini {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "LANGUAGE"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter",
        _ if has_tool_calls => "tool_calls",
        _ => "stop",
    }
}

/// Thoughts are output tokens (billed as such); cached and tool-use prompt tokens
/// are input. Details in OpenAI's shape.
pub fn usage(u: &UsageMetadata) -> Usage {
    // Saturating: absurd counts from an upstream must neither panic nor wrap to a
    // small bill (issue 8).
    let prompt = u
        .prompt_token_count
        .saturating_add(u.tool_use_prompt_token_count);
    let completion = u
        .candidates_token_count
        .saturating_add(u.thoughts_token_count);
    let mut usage = Usage::new(prompt, completion);
    if u.cached_content_token_count > 0 {
        usage.extra.insert(
            "prompt_tokens_details".into(),
            json!({ "cached_tokens": u.cached_content_token_count }),
        );
    }
    if u.thoughts_token_count > 0 {
        usage.extra.insert(
            "completion_tokens_details".into(),
            json!({ "reasoning_tokens": u.thoughts_token_count }),
        );
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Each fixture: `gemini` (the upstream's answer) and `openai` (what the client
    /// gets), with id `chatcmpl-<responseId>`, model `google/gemini-2.5-flash`,
    /// created 1700000000.
    fn check(text: &str) {
        let fixture: Value = serde_json::from_str(text).unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let resp: GenerateContentResponse =
                serde_json::from_value(case["gemini"].clone()).unwrap();
            let meta = Meta {
                id: super::super::ids::completion_id(resp.response_id.as_deref(), "fallback"),
                model: "google/gemini-2.5-flash".into(),
                created: 1_700_000_000,
            };
            let got = serde_json::to_value(to_completion(resp, &meta).unwrap()).unwrap();
            assert_eq!(got, case["openai"], "{}\ngot: {got:#}", case["about"]);
        }
    }

    #[test]
    fn text_thoughts_and_usage() {
        check(include_str!(
            "../../tests/fixtures/gemini/response_text.json"
        ));
    }

    #[test]
    fn function_calls() {
        check(include_str!(
            "../../tests/fixtures/gemini/response_function_call.json"
        ));
    }

    #[test]
    fn finish_reasons_and_blocks() {
        check(include_str!(
            "../../tests/fixtures/gemini/response_finish_reasons.json"
        ));
    }

    #[test]
    fn every_finish_reason() {
        let cases = [
            ("STOP", false, "stop"),
            ("STOP", true, "tool_calls"),
            ("MAX_TOKENS", false, "length"),
            ("MAX_TOKENS", true, "length"),
            ("SAFETY", false, "content_filter"),
            ("RECITATION", false, "content_filter"),
            ("BLOCKLIST", false, "content_filter"),
            ("PROHIBITED_CONTENT", false, "content_filter"),
            ("SPII", false, "content_filter"),
            ("LANGUAGE", false, "content_filter"),
            ("IMAGE_SAFETY", false, "content_filter"),
            ("MALFORMED_FUNCTION_CALL", false, "stop"),
            ("OTHER", false, "stop"),
            ("FINISH_REASON_UNSPECIFIED", false, "stop"),
            ("SOMETHING_NEW", true, "tool_calls"),
        ];
        for (gemini, calls, want) in cases {
            assert_eq!(finish_reason(gemini, calls), want, "{gemini} {calls}");
        }
    }

    #[test]
    fn no_candidates_without_a_block_is_a_retriable_provider_error() {
        let meta = Meta {
            id: "chatcmpl-x".into(),
            model: "google/gemini-2.5-flash".into(),
            created: 0,
        };
        let e = to_completion(GenerateContentResponse::default(), &meta).unwrap_err();
        assert!(e.retriable);
        assert_eq!(e.error.status(), 502);
    }
}
