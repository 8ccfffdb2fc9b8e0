//! Upstream providers. `Provider` dispatches by kind with one `match` per operation;
//! each kind's folder translates the OpenAI hub types to its native API and back,
//! and maps its failures into the contract (`UpstreamError`).

mod anthropic;
mod classify;
mod fetch;
mod gemini;
mod http;
mod mock;
mod openai;
#[cfg(test)]
mod proptests;
mod sanitize;

use futures_util::Stream;
use modelgate_core::catalog::Route;
use modelgate_core::config::ProviderKind;
use modelgate_core::model_id::ReasoningEffort;
use modelgate_core::openai::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use modelgate_core::GatewayError;
use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

pub use fetch::ImageCache;
pub use http::{SseDecoder, SseEvent};

/// The content chunks of a streamed answer, already in OpenAI shape with the
/// client's canonical model ID.
pub type ChunkStream =
    Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk, UpstreamError>> + Send>>;

pub enum ChatResponse {
    Complete(ChatCompletion),
    Stream(ChunkStream),
}

/// One upstream attempt's input.
pub struct ChatCall<'a> {
    pub route: &'a Route,
    pub request: &'a ChatCompletionRequest,
    /// The canonical model ID the client asked for: responses carry it, never the
    /// upstream's private name.
    pub canonical_model: &'a str,
    pub effort: Option<ReasoningEffort>,
    /// The output limit sent upstream when the client set none (DESIGN §4).
    pub max_output_tokens: Option<u64>,
    /// `x-mock-fault` from the client, honoured only by the `mock` kind.
    pub mock_fault: Option<&'a str>,
    /// Limits for server-side fetches of client-supplied image URLs (SSRF guard).
    pub fetch: &'a modelgate_core::config::FetchConfig,
    /// The request's fetched images, shared by all its attempts (fetched once).
    pub images: &'a ImageCache,
}

/// One upstream embeddings attempt's input.
pub struct EmbeddingsCall<'a> {
    pub route: &'a Route,
    pub request: &'a modelgate_core::openai::EmbeddingsRequest,
    pub canonical_model: &'a str,
    /// `x-mock-fault` from the client, honoured only by the `mock` kind.
    pub mock_fault: Option<&'a str>,
}

/// One upstream image-generation attempt's input.
pub struct ImagesCall<'a> {
    pub route: &'a Route,
    pub request: &'a modelgate_core::openai::ImagesRequest,
    pub canonical_model: &'a str,
    /// `x-mock-fault` from the client, honoured only by the `mock` kind.
    pub mock_fault: Option<&'a str>,
}

/// One upstream Responses API attempt's input.
pub struct ResponsesCall<'a> {
    pub route: &'a Route,
    pub request: &'a modelgate_core::openai::ResponsesRequest,
    pub canonical_model: &'a str,
    /// The output limit sent upstream when the client set none (DESIGN §4).
    pub max_output_tokens: Option<u64>,
    pub mock_fault: Option<&'a str>,
}

/// Typed SSE events of a streamed Responses API answer, model already canonical.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, UpstreamError>> + Send>>;

pub enum ResponsesAnswer {
    Complete(serde_json::Value),
    Stream(EventStream),
}

/// How one failed attempt counts for retries and health.
#[derive(Debug)]
pub struct UpstreamError {
    pub error: GatewayError,
    /// Another attempt (here or on another deployment) may succeed.
    pub retriable: bool,
    /// The upstream's own Retry-After, when it sent one.
    pub retry_after: Option<Duration>,
    /// Take this deployment out of rotation at once (exhausted quota).
    pub cool_down: bool,
    /// Prompt tokens the upstream had reported before a stream failed (Anthropic's
    /// `message_start`, Gemini's `usageMetadata`): billed instead of the prompt's
    /// upper bound.
    pub reported_prompt_tokens: Option<u64>,
}

impl UpstreamError {
    pub fn fatal(error: GatewayError) -> Self {
        Self {
            error,
            retriable: false,
            retry_after: None,
            cool_down: false,
            reported_prompt_tokens: None,
        }
    }

    pub fn retriable(error: GatewayError) -> Self {
        Self {
            error,
            retriable: true,
            retry_after: None,
            cool_down: false,
            reported_prompt_tokens: None,
        }
    }
}

/// The upstream clients, one per configured provider (each has its own timeouts).
pub struct Providers {
    clients: HashMap<String, reqwest::Client>,
}

impl Providers {
    pub fn new<'a>(
        specs: impl Iterator<Item = &'a modelgate_core::catalog::ProviderSpec>,
    ) -> Result<Self, GatewayError> {
        let mut clients = HashMap::new();
        for spec in specs {
            if spec.kind != ProviderKind::Mock {
                clients.insert(spec.id.clone(), http::client(spec)?);
            }
        }
        Ok(Self { clients })
    }

    pub async fn chat(&self, call: ChatCall<'_>) -> Result<ChatResponse, UpstreamError> {
        let provider = &call.route.provider;
        match provider.kind {
            ProviderKind::Mock => mock::chat(&call).await,
            ProviderKind::Openai => openai::chat(self.client(&provider.id)?, &call).await,
            ProviderKind::Anthropic => anthropic::chat(self.client(&provider.id)?, &call).await,
            ProviderKind::Gemini => gemini::chat(self.client(&provider.id)?, &call).await,
        }
    }

    pub async fn embeddings(
        &self,
        call: EmbeddingsCall<'_>,
    ) -> Result<modelgate_core::openai::EmbeddingsResponse, UpstreamError> {
        let provider = &call.route.provider;
        match provider.kind {
            ProviderKind::Mock => mock::embeddings(&call).await,
            ProviderKind::Openai => openai::embeddings(self.client(&provider.id)?, &call).await,
            ProviderKind::Anthropic | ProviderKind::Gemini => {
                Err(UpstreamError::fatal(GatewayError::ProviderUnavailable {
                    model: call.canonical_model.to_owned(),
                    reason: format!(
                        "embeddings through the {} provider kind are not supported by this build.",
                        kind_name(provider.kind)
                    ),
                    retry_after: None,
                }))
            }
        }
    }

    pub async fn images(
        &self,
        call: ImagesCall<'_>,
    ) -> Result<modelgate_core::openai::ImagesResponse, UpstreamError> {
        let provider = &call.route.provider;
        match provider.kind {
            ProviderKind::Mock => mock::images(&call).await,
            ProviderKind::Openai => openai::images(self.client(&provider.id)?, &call).await,
            ProviderKind::Anthropic | ProviderKind::Gemini => Err(UpstreamError::fatal(GatewayError::ProviderUnavailable {
                model: call.canonical_model.to_owned(),
                reason: format!("image generation through the {} provider kind is not supported by this build.", kind_name(provider.kind)),
                retry_after: None,
            })),
        }
    }

    pub async fn responses(
        &self,
        call: ResponsesCall<'_>,
    ) -> Result<ResponsesAnswer, UpstreamError> {
        let provider = &call.route.provider;
        match provider.kind {
            ProviderKind::Mock => mock::responses(&call).await,
            ProviderKind::Openai => openai::responses(self.client(&provider.id)?, &call).await,
            ProviderKind::Anthropic | ProviderKind::Gemini => Err(UpstreamError::fatal(GatewayError::ProviderUnavailable {
                model: call.canonical_model.to_owned(),
                reason: format!("the Responses API through the {} provider kind is not supported by this build; use /v1/chat/completions.", kind_name(provider.kind)),
                retry_after: None,
            })),
        }
    }

    fn client(&self, provider: &str) -> Result<&reqwest::Client, UpstreamError> {
        self.clients.get(provider).ok_or_else(|| {
            UpstreamError::fatal(GatewayError::internal(format!(
                "no HTTP client for provider {provider}"
            )))
        })
    }
}

/// Per-event stream translation, public for the criterion benchmark
/// (`benches/stream_translation.rs`): one SSE `data:` payload in, OpenAI chunks out.
pub mod stream_translation {
    use modelgate_core::openai::ChatCompletionChunk;

    pub struct Anthropic(crate::anthropic::stream::StreamMapper);

    impl Anthropic {
        pub fn new(model: &str) -> Self {
            Self(crate::anthropic::stream::StreamMapper::new(model, 0))
        }

        pub fn on_data(&mut self, data: &str) -> Vec<ChatCompletionChunk> {
            self.0.on_sse(data).unwrap_or_default()
        }
    }

    pub struct Gemini(crate::gemini::stream::StreamMapper);

    impl Gemini {
        pub fn new(model: &str) -> Self {
            Self(crate::gemini::stream::StreamMapper::new(model, 0, "bench"))
        }

        pub fn on_data(&mut self, data: &str) -> Vec<ChatCompletionChunk> {
            serde_json::from_str::<crate::gemini::wire::GenerateContentResponse>(data)
                .map(|ev| self.0.on_event(ev))
                .unwrap_or_default()
        }
    }
}

fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gemini",
        ProviderKind::Mock => "mock",
    }
}
