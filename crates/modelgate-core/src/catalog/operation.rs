//! The operations a model can serve, each tied to one public endpoint.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    ChatCompletions,
    Responses,
    Embeddings,
    ImagesGenerations,
    ImagesEdits,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::ChatCompletions,
        Operation::Responses,
        Operation::Embeddings,
        Operation::ImagesGenerations,
        Operation::ImagesEdits,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat_completions",
            Self::Responses => "responses",
            Self::Embeddings => "embeddings",
            Self::ImagesGenerations => "images_generations",
            Self::ImagesEdits => "images_edits",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/v1/chat/completions",
            Self::Responses => "/v1/responses",
            Self::Embeddings => "/v1/embeddings",
            Self::ImagesGenerations => "/v1/images/generations",
            Self::ImagesEdits => "/v1/images/edits",
        }
    }

    /// Case-insensitive, as `?operation=IMAGES_GENERATIONS` must work (DESIGN §1).
    pub fn parse(text: &str) -> Option<Operation> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The endpoint DESIGN §2 suggests instead of this one.
    pub fn closest_alternative(self) -> Option<Operation> {
        match self {
            Self::ImagesEdits => Some(Self::ImagesGenerations),
            Self::ImagesGenerations => Some(Self::ImagesEdits),
            Self::ChatCompletions => Some(Self::Responses),
            Self::Responses => Some(Self::ChatCompletions),
            Self::Embeddings => None,
        }
    }
}
