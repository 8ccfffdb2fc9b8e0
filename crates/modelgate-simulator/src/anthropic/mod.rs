//! Anthropic Messages endpoints.

pub(crate) mod error;

use axum::response::Response;

use crate::exchange::Req;

pub(crate) async fn messages(req: Req) -> Response {
    crate::errors::unknown_route(req.method.as_str(), req.uri.path())
}

pub(crate) async fn count_tokens(req: Req) -> Response {
    crate::errors::unknown_route(req.method.as_str(), req.uri.path())
}
