//! Token bounds before the call (DESIGN §4): bounds, not guesses. The upper bound sizes
//! the reservation (no overdraft); the lower bound decides 413 (no false 413).
//!
//! Upper bound, any provider: a BPE token encodes at least one byte, so a text's UTF-8
//! length bounds its tokens; each message adds at most `MESSAGE_FRAMING` tokens of
//! role and separators, the reply adds `REPLY_PRIMING`, and each non-text part (image,
//! audio, file) at most `NON_TEXT_PART_MAX`. Tool definitions and response formats
//! count by their JSON length. Lower bound: zero until an exact tokenizer is wired for
//! the model's family.

use crate::openai::ChatCompletionRequest;
use serde_json::Value;

pub const MESSAGE_FRAMING: u64 = 4;
pub const REPLY_PRIMING: u64 = 3;
/// OpenAI's high-detail 2048x2048 image is 2,805 tokens; Anthropic caps an image near
/// 1,600 and Gemini at 258 per tile: 3,000 bounds one part for all three.
pub const NON_TEXT_PART_MAX: u64 = 3_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptBounds {
    pub lower: u64,
    pub upper: u64,
}

pub fn chat_prompt_bounds(req: &ChatCompletionRequest) -> PromptBounds {
    let mut upper = REPLY_PRIMING;
    for m in &req.messages {
        upper += MESSAGE_FRAMING + m.role.len() as u64;
        upper += content_upper(m.content.as_ref());
        for (k, v) in &m.extra {
            // name, tool_calls, tool_call_id: all become prompt text.
            upper += k.len() as u64 + json_len(v);
        }
    }
    for key in ["tools", "functions", "response_format", "tool_choice"] {
        if let Some(v) = req.extra.get(key) {
            upper += json_len(v);
        }
    }
    PromptBounds { lower: 0, upper }
}

fn content_upper(content: Option<&Value>) -> u64 {
    match content {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => s.len() as u64,
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p.get("text").and_then(Value::as_str) {
                Some(t) => t.len() as u64,
                None => NON_TEXT_PART_MAX,
            })
            .sum(),
        Some(other) => json_len(other),
    }
}

fn json_len(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        other => serde_json::to_vec(other)
            .map(|b| b.len() as u64)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_json_body;

    #[test]
    fn upper_bound_covers_text_framing_and_images() {
        let req: ChatCompletionRequest = parse_json_body(
            br#"{"model":"a/b","messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#,
        )
        .unwrap();
        let b = chat_prompt_bounds(&req);
        assert_eq!(
            b.upper,
            REPLY_PRIMING + MESSAGE_FRAMING + 4 + 5 + NON_TEXT_PART_MAX
        );
        assert_eq!(b.lower, 0);
    }
}
