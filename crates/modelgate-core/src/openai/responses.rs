//! OpenAI Responses API wire types (POST /v1/responses), kept loose: requests and
//! answers pass through OpenAI-compatible upstreams with unknown fields intact; the
//! gateway reads only what it bounds, bills and rewrites.

use crate::tokens::PromptBounds;
use crate::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResponsesRequest {
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    pub fn validate(&self) -> Result<(), GatewayError> {
        let empty = match &self.input {
            Value::String(s) => s.trim().is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => {
                return Err(GatewayError::invalid(
                    "'input' must be a string or a list of input items.",
                    Some("input"),
                ))
            }
        };
        if empty {
            return Err(GatewayError::invalid(
                "'input' must not be empty.",
                Some("input"),
            ));
        }
        super::check_output_tokens(self.max_output_tokens, "max_output_tokens")
    }

    /// The texts of the input: a string input, or every `text`/string `content` of
    /// its items.
    pub fn texts(&self) -> Vec<&str> {
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Object(o) => {
                    for key in ["text", "content"] {
                        if let Some(inner) = o.get(key) {
                            walk(inner, out);
                        }
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.input, &mut out);
        out.extend(self.instructions.as_deref());
        out
    }

    /// Upper bound: the whole request JSON's length (a token is at least a byte),
    /// plus what its non-text inputs can cost beyond their JSON (an image at most
    /// `NON_TEXT_PART_MAX`, inline file data `INLINE_DATA_TOKENS_PER_BYTE` a byte);
    /// lower bound: the words of its texts.
    pub fn bounds(&self) -> PromptBounds {
        let upper = serde_json::to_vec(&self.input)
            .map(|b| b.len() as u64)
            .unwrap_or(0)
            + self.instructions.as_ref().map_or(0, |i| i.len() as u64)
            + self
                .extra
                .get("tools")
                .map_or(0, |t| t.to_string().len() as u64);
        let lower = self
            .texts()
            .iter()
            .map(|t| t.split_whitespace().count() as u64)
            .sum();
        PromptBounds {
            lower,
            upper: upper.saturating_add(non_text_upper(&self.input)),
            exact: false,
        }
    }

    /// Input the request itself does not hold, so that only the model's context
    /// window bounds it: an earlier response or conversation, a file by id or URL.
    pub fn input_beyond_request(&self) -> bool {
        ["previous_response_id", "conversation"]
            .iter()
            .any(|k| self.extra.get(*k).is_some_and(|v| !v.is_null()))
            || has_external_file(&self.input)
    }

    /// Server-side tools bill by the call at prices the catalog does not carry: they
    /// cannot be reserved for, so they are refused (DESIGN §4).
    pub fn check_priced_tools(&self) -> Result<(), GatewayError> {
        let Some(Value::Array(tools)) = self.extra.get("tools") else {
            return Ok(());
        };
        for (i, tool) in tools.iter().enumerate() {
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
            if !matches!(kind, "function" | "custom") {
                let param = format!("tools[{i}]");
                return Err(GatewayError::invalid(
                    format!(
                        "'{param}' is a server-side tool (\"{}\") billed per call at a price this gateway does not know: only function tools are accepted.",
                        kind.chars().take(40).collect::<String>()
                    ),
                    Some(&param),
                ));
            }
        }
        Ok(())
    }
}

/// Tokens that images and inline files in the input can cost beyond their JSON.
fn non_text_upper(v: &Value) -> u64 {
    match v {
        Value::Array(items) => items.iter().map(non_text_upper).sum(),
        Value::Object(o) => {
            let own = match o.get("type").and_then(Value::as_str) {
                Some("input_image") => crate::tokens::NON_TEXT_PART_MAX,
                Some("input_file") => o.get("file_data").and_then(Value::as_str).map_or(0, |d| {
                    (d.len() as u64).saturating_mul(crate::tokens::INLINE_DATA_TOKENS_PER_BYTE)
                }),
                _ => 0,
            };
            own.saturating_add(o.get("content").map_or(0, non_text_upper))
        }
        _ => 0,
    }
}

/// An `input_file` by `file_id` or `file_url`: its content is not in the request.
fn has_external_file(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(has_external_file),
        Value::Object(o) => {
            let external = o.get("type").and_then(Value::as_str) == Some("input_file")
                && o.get("file_data").is_none();
            external || o.get("content").is_some_and(has_external_file)
        }
        _ => false,
    }
}

/// `usage` of a Response object.
pub fn usage_of(response: &Value) -> (u64, u64) {
    let u = &response["usage"];
    (
        u["input_tokens"].as_u64().unwrap_or(0),
        u["output_tokens"].as_u64().unwrap_or(0),
    )
}
