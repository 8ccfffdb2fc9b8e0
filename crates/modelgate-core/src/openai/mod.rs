//! OpenAI Chat Completions wire types: the hub every provider translates to and from.
//! Unknown fields are kept (`extra`) so that OpenAI-compatible upstreams receive them
//! and clients get back whatever the upstream added.

mod embeddings;
mod images;
mod parse;
#[cfg(test)]
mod proptests;
mod responses;

pub use embeddings::{
    EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage, MAX_INPUTS,
};
pub use images::{ImagesRequest, ImagesResponse, MAX_REFERENCES};
pub use parse::parse_json_body;
pub use responses::{usage_of, ResponsesRequest};

/// The largest output-token limit a request may set: far above any model's, and low
/// enough that reservation arithmetic (tokens times price) stays far from overflow.
pub const MAX_OUTPUT_TOKENS: u64 = 1_000_000_000;
/// The most choices (`n`) a chat request may ask for.
pub const MAX_CHOICES: u32 = 128;

/// 400 naming `name` for an output-token limit of 0 or above `MAX_OUTPUT_TOKENS`.
pub(crate) fn check_output_tokens(value: Option<u64>, name: &str) -> Result<(), GatewayError> {
    match value {
        Some(0) => Err(GatewayError::invalid(
            format!("'{name}' must be at least 1."),
            Some(name),
        )),
        Some(n) if n > MAX_OUTPUT_TOKENS => Err(GatewayError::invalid(
            format!("'{name}' must be at most {MAX_OUTPUT_TOKENS}; got {n}. Ask for fewer tokens, or leave it out to get the model's maximum."),
            Some(name),
        )),
        _ => Ok(()),
    }
}

use crate::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stop`: one string or a list of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl ChatCompletionRequest {
    /// Range checks serde cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let range = |v: Option<f64>, lo: f64, hi: f64, name: &str| match v {
            Some(x) if !(lo..=hi).contains(&x) => Err(GatewayError::invalid(
                format!("'{name}' must be between {lo} and {hi}; got {x}."),
                Some(name),
            )),
            _ => Ok(()),
        };
        range(self.temperature, 0.0, 2.0, "temperature")?;
        range(self.top_p, 0.0, 1.0, "top_p")?;
        range(self.presence_penalty, -2.0, 2.0, "presence_penalty")?;
        range(self.frequency_penalty, -2.0, 2.0, "frequency_penalty")?;
        if let Some(n) = self.n.filter(|n| !(1..=MAX_CHOICES).contains(n)) {
            return Err(GatewayError::invalid(
                format!("'n' must be from 1 to {MAX_CHOICES}; got {n}."),
                Some("n"),
            ));
        }
        if self.messages.is_empty() {
            return Err(GatewayError::invalid(
                "'messages' must hold at least one message.",
                Some("messages"),
            ));
        }
        check_output_tokens(self.max_completion_tokens, "max_completion_tokens")?;
        check_output_tokens(self.max_tokens, "max_tokens")?;
        Ok(())
    }

    /// The reasoning effort the body asks for: `reasoning_effort` or `reasoning.effort`.
    pub fn body_effort(&self) -> Option<(&str, &'static str)> {
        if let Some(e) = self.reasoning_effort.as_deref() {
            return Some((e, "reasoning_effort"));
        }
        self.extra
            .get("reasoning")
            .and_then(|r| r.get("effort"))
            .and_then(Value::as_str)
            .map(|e| (e, "reasoning.effort"))
    }

    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    pub fn wants_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The output limit the client set, under either name.
    pub fn output_limit(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatMessage {
    /// The message's text: a string content, or its text parts joined.
    pub fn text(&self) -> String {
        match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            // Upstream counts can be absurd: saturate rather than panic or wrap.
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            extra: Map::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletion {
    pub id: String,
    #[serde(default = "completion_object")]
    pub object: String,
    #[serde(default)]
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn completion_object() -> String {
    "chat.completion".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: AssistantMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AssistantMessage {
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn assistant_role() -> String {
    "assistant".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    pub id: String,
    #[serde(default = "chunk_object")]
    pub object: String,
    #[serde(default)]
    pub created: i64,
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chunk_object() -> String {
    "chat.completion.chunk".into()
}

impl ChatCompletionChunk {
    /// Whether the chunk carries content for the client (text, tool calls, reasoning),
    /// as opposed to the opening role chunk or the closing usage chunk (§5 retry rule).
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(|c| {
            c.delta.content.as_deref().is_some_and(|s| !s.is_empty())
                || c.delta.tool_calls.is_some()
                || c.delta
                    .reasoning_content
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_of(body: &str) -> Option<String> {
        let err = match parse_json_body::<ChatCompletionRequest>(body.as_bytes()) {
            Ok(req) => req.validate().err()?,
            Err(e) => e,
        };
        assert_eq!(err.status(), 400);
        err.to_body()["error"]["details"]["param"]
            .as_str()
            .map(str::to_owned)
    }

    #[test]
    fn out_of_range_numbers_name_their_field() {
        let chat = |extra: &str| {
            format!(r#"{{"model":"a/b","messages":[{{"role":"user","content":"x"}}],{extra}}}"#)
        };
        for (extra, field) in [
            (r#""max_tokens":18446744073709551615"#, "max_tokens"),
            (r#""max_tokens":1000000001"#, "max_tokens"),
            (r#""max_tokens":0"#, "max_tokens"),
            (r#""max_tokens":-5"#, "max_tokens"),
            (r#""max_tokens":1e30"#, "max_tokens"),
            (
                r#""max_completion_tokens":18446744073709551615"#,
                "max_completion_tokens",
            ),
            (r#""max_completion_tokens":0"#, "max_completion_tokens"),
            (r#""n":0"#, "n"),
            (r#""n":129"#, "n"),
            (r#""n":-1"#, "n"),
            (r#""n":1.5"#, "n"),
            (r#""n":4294967296"#, "n"),
        ] {
            assert_eq!(param_of(&chat(extra)).as_deref(), Some(field), "{extra}");
        }
        for ok in [r#""max_tokens":1000000000"#, r#""n":128"#, r#""n":1"#] {
            let req: ChatCompletionRequest = parse_json_body(chat(ok).as_bytes()).unwrap();
            req.validate().unwrap();
        }
    }

    #[test]
    fn responses_bound_max_output_tokens() {
        for (value, ok) in [("1000000000", true), ("1000000001", false), ("0", false)] {
            let body = format!(r#"{{"model":"a/b","input":"hi","max_output_tokens":{value}}}"#);
            let req: ResponsesRequest = parse_json_body(body.as_bytes()).unwrap();
            match req.validate() {
                Ok(()) => assert!(ok, "{value}"),
                Err(e) => {
                    assert!(!ok, "{value}");
                    assert_eq!(
                        e.to_body()["error"]["details"]["param"],
                        "max_output_tokens"
                    );
                }
            }
        }
    }
}
