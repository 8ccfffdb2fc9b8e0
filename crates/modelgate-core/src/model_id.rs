//! Canonical model IDs (`provider/model`) and the reasoning-effort suffix (DESIGN §1),
//! and the bound on what a client may send as a model ID.

use crate::GatewayError;
use serde::{Deserialize, Serialize};

/// The longest model ID accepted, suffix included; real IDs are far shorter. Anything
/// longer is refused before the catalog is consulted, so that suggestion scoring
/// (quadratic-ish in the input) only ever runs on bounded input.
pub const MAX_MODEL_ID_BYTES: usize = 256;

/// How much of a client's model string an error message quotes back.
pub const QUOTED_MODEL_CHARS: usize = 100;

/// 400 naming `param` for an empty, over-long or control-character model ID.
pub fn check_model_id(requested: &str, param: &str) -> Result<(), GatewayError> {
    if requested.len() > MAX_MODEL_ID_BYTES {
        return Err(GatewayError::invalid(
            format!(
                "'{param}' is {} bytes long; model IDs are at most {MAX_MODEL_ID_BYTES} bytes. Use a canonical ID of the form provider/model (GET /api/models lists them).",
                requested.len()
            ),
            Some(param),
        ));
    }
    if requested.chars().any(char::is_control) {
        return Err(GatewayError::invalid(
            format!("'{param}' contains control characters. Use a canonical ID of the form provider/model (GET /api/models lists them)."),
            Some(param),
        ));
    }
    if requested.trim().is_empty() {
        return Err(GatewayError::invalid(
            format!("'{param}' must not be empty. Use a canonical ID of the form provider/model (GET /api/models lists them)."),
            Some(param),
        ));
    }
    Ok(())
}

/// A client string as error messages quote it: at most `QUOTED_MODEL_CHARS`
/// characters, with an ellipsis when cut, so that no answer echoes unbounded input.
pub fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTED_MODEL_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    Low,
    Medium,
    High,
    Max,
}

impl ReasoningEffort {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "max" => Some(Self::Max),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Max => "max",
        }
    }
}

/// Splits `xai/grok-4:high` into (`xai/grok-4`, Some(High)). A colon followed by
/// anything else is part of the ID (it will simply not be found).
pub fn split_effort(requested: &str) -> (&str, Option<ReasoningEffort>) {
    if let Some((base, suffix)) = requested.rsplit_once(':') {
        if let Some(effort) = ReasoningEffort::parse(suffix) {
            return (base, Some(effort));
        }
    }
    (requested, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_known_suffixes_only() {
        assert_eq!(
            split_effort("xai/grok-4:high"),
            ("xai/grok-4", Some(ReasoningEffort::High))
        );
        assert_eq!(split_effort("a/b:turbo"), ("a/b:turbo", None));
        assert_eq!(split_effort("a/b"), ("a/b", None));
    }

    #[test]
    fn model_ids_are_bounded() {
        assert!(check_model_id("xai/grok-4:high", "model").is_ok());
        for bad in [
            "a".repeat(MAX_MODEL_ID_BYTES + 1),
            "demo/echo\n".to_owned(),
            "demo/\u{7f}echo".to_owned(),
            " ".to_owned(),
        ] {
            let err = check_model_id(&bad, "model").unwrap_err();
            let body = err.to_body();
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert_eq!(body["error"]["details"]["param"], "model");
            assert!(!body.to_string().contains(&"a".repeat(120)), "{body}");
        }
        assert!(check_model_id(&"a".repeat(MAX_MODEL_ID_BYTES), "model").is_ok());
    }

    #[test]
    fn quoting_truncates_with_an_ellipsis() {
        assert_eq!(quoted("a/b"), "a/b");
        let long = "é".repeat(150);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), QUOTED_MODEL_CHARS + 1);
        assert!(q.ends_with('…'));
        assert_eq!(quoted(&"x".repeat(QUOTED_MODEL_CHARS)), "x".repeat(100));
    }
}
