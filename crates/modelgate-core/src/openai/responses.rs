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

    /// Upper bound: the whole request JSON's length (a token is at least a byte);
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
            upper,
            exact: false,
        }
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
