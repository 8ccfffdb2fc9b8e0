//! Reading Anthropic Messages requests into the provider-neutral [`Prompt`].

use serde_json::Value;

use crate::answer::{content_text, opt_u64, Prompt};

/// A Messages request and whether extended thinking is on. `count_only` is the
/// count_tokens endpoint, which takes no `max_tokens`.
pub(crate) fn parse(body: &Value, count_only: bool) -> Result<(Prompt, bool), String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or("model: Field required")?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let max_tokens =
        opt_u64(body, "max_tokens").map_err(|_| "max_tokens: Input should be a valid integer")?;
    if max_tokens.is_none() && !count_only {
        return Err("max_tokens: Field required".to_string());
    }
    let mut prompt = Prompt {
        model: model.to_string(),
        max_tokens,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Prompt::default()
    };
    if let Some(system) = body.get("system") {
        prompt.texts.push(content_text(system, true));
    }
    let mut last_user_index = None;
    for (i, m) in messages.iter().enumerate() {
        let content = m.get("content").unwrap_or(&Value::Null);
        prompt.texts.push(content_text(content, true));
        // tool_result blocks are not direct text, so a user turn made only of
        // results does not count as the user speaking.
        let text = content_text(content, false);
        if m.get("role").and_then(Value::as_str) == Some("user") && !text.trim().is_empty() {
            prompt.last_user = text;
            last_user_index = Some(i);
        }
    }
    prompt.ends_with_user = last_user_index.is_some_and(|i| i + 1 == messages.len());
    prompt.tool = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tools.first())
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let thinking = matches!(
        body.pointer("/thinking/type").and_then(Value::as_str),
        Some("enabled" | "adaptive")
    );
    Ok((prompt, thinking))
}
