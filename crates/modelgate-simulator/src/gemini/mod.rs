//! Gemini generateContent endpoints.

pub(crate) mod error;

use axum::response::Response;

use crate::exchange::Req;

pub(crate) async fn generate(req: Req) -> Response {
    crate::errors::unknown_route(req.method.as_str(), req.uri.path())
}
