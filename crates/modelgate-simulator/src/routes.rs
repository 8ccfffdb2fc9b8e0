//! The route table: which path speaks which provider.

use std::sync::Arc;

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::exchange::Req;
use crate::state::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(crate::openai::chat))
        .route("/v1/embeddings", post(crate::openai::embeddings))
        .route("/v1/models", get(crate::openai::models))
        .route("/v1/messages", post(crate::anthropic::messages))
        .route(
            "/v1/messages/count_tokens",
            post(crate::anthropic::count_tokens),
        )
        // Gemini puts `:method` inside the last segment; the handler splits it.
        .route("/v1beta/models/{*rest}", post(crate::gemini::generate))
        .fallback(unknown)
        .with_state(shared)
}

async fn unknown(req: Req) -> Response {
    // Recorded too: a test pointing at a wrong path should see what arrived.
    req.record(None);
    crate::errors::unknown_route(req.method.as_str(), req.uri.path())
}
