//! Canonical model IDs (`provider/model`) and the reasoning-effort suffix (DESIGN §1).

use serde::{Deserialize, Serialize};

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
}
