//! Reading Gemini `GenerateContentRequest`s into the provider-neutral [`Prompt`].
//! Both the camelCase JSON names and the snake_case proto names are accepted,
//! as Google's API does.

use serde_json::Value;

use crate::answer::{content_text, Prompt};

fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

pub(crate) fn parse(body: &Value, model: &str, stream: bool) -> Result<Prompt, String> {
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let mut prompt = Prompt {
        model: model.to_string(),
        stream,
        ..Prompt::default()
    };
    if let Some(parts) =
        field(body, "systemInstruction", "system_instruction").and_then(|s| s.get("parts"))
    {
        prompt.texts.push(content_text(parts, false));
    }
    let mut last_user_index = None;
    for (i, c) in contents.iter().enumerate() {
        let text = content_text(c.get("parts").unwrap_or(&Value::Null), false);
        // Gemini treats a content without a role as the user's.
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role == "user" && !text.trim().is_empty() {
            prompt.last_user = text.clone();
            last_user_index = Some(i);
        }
        prompt.texts.push(text);
    }
    prompt.ends_with_user = last_user_index.is_some_and(|i| i + 1 == contents.len());
    let config = field(body, "generationConfig", "generation_config");
    prompt.max_tokens = match config.and_then(|c| field(c, "maxOutputTokens", "max_output_tokens"))
    {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or(
            "* GenerateContentRequest.generation_config.max_output_tokens: invalid value",
        )?),
    };
    prompt.tool = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| field(t, "functionDeclarations", "function_declarations"))
        .filter_map(Value::as_array)
        .flatten()
        .find_map(|f| f.get("name").and_then(Value::as_str))
        .map(str::to_string);
    Ok(prompt)
}
