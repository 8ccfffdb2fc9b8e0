//! OpenAI embeddings wire types (POST /v1/embeddings).

use crate::tokens::PromptBounds;
use crate::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// OpenAI's own limit on inputs per request.
pub const MAX_INPUTS: usize = 2048;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A string, strings, a token array or token arrays, as OpenAI accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// Per item: (lower, upper) token bounds; token arrays are exact.
    pub fn item_bounds(&self) -> Vec<PromptBounds> {
        let text = |t: &String| PromptBounds {
            lower: t.split_whitespace().count() as u64,
            upper: t.len() as u64,
            exact: false,
        };
        let tokens = |t: &Vec<u32>| PromptBounds {
            lower: t.len() as u64,
            upper: t.len() as u64,
            exact: true,
        };
        match self {
            Self::Text(t) => vec![text(t)],
            Self::Texts(ts) => ts.iter().map(text).collect(),
            Self::Tokens(t) => vec![tokens(t)],
            Self::TokenLists(ts) => ts.iter().map(tokens).collect(),
        }
    }

    /// The texts, for providers that need them (token arrays have none).
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            Self::Text(t) => Some(vec![t.as_str()]),
            Self::Texts(ts) => Some(ts.iter().map(String::as_str).collect()),
            Self::Tokens(_) | Self::TokenLists(_) => None,
        }
    }
}

impl EmbeddingsRequest {
    pub fn validate(&self) -> Result<(), GatewayError> {
        let items = self.input.item_bounds();
        if items.is_empty() || items.iter().any(|b| b.upper == 0) {
            return Err(GatewayError::invalid(
                "'input' must not be empty: send a non-empty string or a list of them.",
                Some("input"),
            ));
        }
        if items.len() > MAX_INPUTS {
            return Err(GatewayError::invalid(
                format!("'input' holds {} items; at most {MAX_INPUTS} are allowed per request. Split the batch.", items.len()),
                Some("input"),
            ));
        }
        if let Some(f) = self.encoding_format.as_deref() {
            if f != "float" && f != "base64" {
                return Err(GatewayError::invalid(
                    format!(
                        "'encoding_format' must be \"float\" or \"base64\"; got \"{}\".",
                        crate::model_id::quoted(f)
                    ),
                    Some("encoding_format"),
                ));
            }
        }
        if self.dimensions == Some(0) {
            return Err(GatewayError::invalid(
                "'dimensions' must be at least 1.",
                Some("dimensions"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingsUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    #[serde(default = "list_object")]
    pub object: String,
    pub data: Vec<Value>,
    pub model: String,
    #[serde(default)]
    pub usage: EmbeddingsUsage,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn list_object() -> String {
    "list".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_json_body;

    #[test]
    fn accepts_every_input_shape() {
        for body in [
            r#"{"model":"m/e","input":"hello world"}"#,
            r#"{"model":"m/e","input":["a","b c"]}"#,
            r#"{"model":"m/e","input":[1,2,3]}"#,
            r#"{"model":"m/e","input":[[1],[2,3]]}"#,
        ] {
            let req: EmbeddingsRequest = parse_json_body(body.as_bytes()).unwrap();
            req.validate().unwrap();
        }
    }

    #[test]
    fn refuses_empty_and_bad_formats() {
        let req: EmbeddingsRequest = parse_json_body(br#"{"model":"m/e","input":""}"#).unwrap();
        assert_eq!(
            req.validate().unwrap_err().to_body()["error"]["details"]["param"],
            "input"
        );
        let req: EmbeddingsRequest =
            parse_json_body(br#"{"model":"m/e","input":"x","encoding_format":"hex"}"#).unwrap();
        assert_eq!(
            req.validate().unwrap_err().to_body()["error"]["details"]["param"],
            "encoding_format"
        );
    }
}
