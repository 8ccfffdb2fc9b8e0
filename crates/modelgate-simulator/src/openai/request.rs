//! Reading OpenAI requests into the provider-neutral [`Prompt`].

use serde_json::Value;

use crate::answer::{content_text, opt_u64, Prompt};

/// A chat completions request, plus whether the stream should end with a usage chunk.
pub(crate) fn parse_chat(body: &Value) -> Result<(Prompt, bool), String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or("you must provide a model parameter")?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("Missing required parameter: 'messages'.")?;
    let mut prompt = Prompt {
        model: model.to_string(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Prompt::default()
    };
    let mut last_user_index = None;
    for (i, m) in messages.iter().enumerate() {
        let content = m.get("content").unwrap_or(&Value::Null);
        prompt.texts.push(content_text(content, true));
        let text = content_text(content, false);
        if m.get("role").and_then(Value::as_str) == Some("user") && !text.trim().is_empty() {
            prompt.last_user = text;
            last_user_index = Some(i);
        }
    }
    prompt.ends_with_user = last_user_index.is_some_and(|i| i + 1 == messages.len());
    prompt.max_tokens = match opt_u64(body, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => opt_u64(body, "max_tokens")?,
    };
    prompt.tool = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tools.first())
        .and_then(|t| t.pointer("/function/name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((prompt, include_usage))
}

/// An embeddings request: the model, the input texts, and the dimensions wanted.
pub(crate) struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<String>,
    pub dimensions: usize,
    pub base64: bool,
}

pub(crate) fn parse_embeddings(body: &Value) -> Result<EmbeddingsRequest, String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or("you must provide a model parameter")?;
    let inputs = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        // A flat array of integers is one pre-tokenised input.
        Some(v @ Value::Array(items))
            if !items.is_empty() && items.iter().all(Value::is_number) =>
        {
            vec![input_text(v)?]
        }
        Some(Value::Array(items)) => items.iter().map(input_text).collect::<Result<_, _>>()?,
        _ => return Err("'input' is a required property".to_string()),
    };
    let dimensions = opt_u64(body, "dimensions")?.unwrap_or(8);
    if dimensions == 0 || dimensions > 4096 {
        return Err("'dimensions' must be between 1 and 4096".to_string());
    }
    Ok(EmbeddingsRequest {
        model: model.to_string(),
        inputs,
        dimensions: usize::try_from(dimensions).map_err(|e| e.to_string())?,
        base64: body.get("encoding_format").and_then(Value::as_str) == Some("base64"),
    })
}

/// One input: a string, or pre-tokenised integers (each integer is one word).
fn input_text(item: &Value) -> Result<String, String> {
    match item {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(tokens) => Ok(tokens
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" ")),
        _ => Err("'input' must be a string or an array of strings or tokens".to_string()),
    }
}
