//! `fn app(state) -> Router`. Layer order, outermost first:
//! 1. request id (every response, errors included, carries `x-request-id`);
//! 2. panic catching (a panic becomes 500 in the contract's shape; the process lives);
//! 3. header size check (431 in the contract's shape);
//!
//! Then the routes, with contract-shaped 404 and 405 fallbacks.

use crate::error_response::error_response;
use crate::routes;
use crate::state::AppState;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use modelgate_core::GatewayError;
use tower_http::catch_panic::CatchPanicLayer;

pub const MAX_HEADER_BYTES: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(routes::chat::chat_completions))
        .route("/v1/responses", post(routes::responses::responses))
        .route("/v1/embeddings", post(routes::embeddings::embeddings))
        .route("/v1/images/generations", post(routes::images::generations))
        .route("/v1/images/edits", post(routes::unserved::images_edits))
        .route(
            "/v1/files",
            post(routes::files::upload).get(routes::files::list),
        )
        .route(
            "/v1/files/{id}",
            get(routes::files::get).delete(routes::files::delete),
        )
        .route("/v1/files/{id}/content", get(routes::files::content))
        .route("/v1/models", get(routes::models::list_for_key))
        .route("/v1/models/{*id}", get(routes::models::get_for_key))
        .route("/api/models", get(routes::models::catalog))
        .route("/api/balance", get(routes::account::balance))
        .route("/api/usage", get(routes::account::usage))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::health::metrics))
        .route("/admin/accounts", post(routes::admin::create_account))
        .route("/admin/accounts/{id}", get(routes::admin::get_account))
        .route(
            "/admin/accounts/{id}/credits",
            post(routes::admin::add_credits),
        )
        .route("/admin/accounts/{id}/keys", post(routes::admin::create_key))
        .route("/admin/keys/{id}", delete(routes::admin::revoke_key))
        .route("/admin/usage", get(routes::admin::usage))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    api.layer(middleware::from_fn(header_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(crate::request_id::layer))
}

async fn not_found(req: Request) -> Response {
    error_response(&GatewayError::RouteNotFound {
        path: req.uri().path().chars().take(200).collect(),
    })
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(&GatewayError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.uri().path().chars().take(200).collect(),
    })
}

async fn header_limit(req: Request, next: Next) -> Response {
    let total: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if total > MAX_HEADER_BYTES {
        return error_response(&GatewayError::HeadersTooLarge {
            limit_bytes: MAX_HEADER_BYTES,
        });
    }
    next.run(req).await
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "a handler panicked; answered 500");
    error_response(&GatewayError::internal(detail)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_becomes_a_contract_500() {
        let app: Router = Router::new()
            .route("/boom", get(|| async { panic!("kaboom") as &'static str }))
            .layer(CatchPanicLayer::custom(panic_response));
        let req = Request::builder()
            .uri("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()["x-should-retry"], "true");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["type"], "internal_error");
        assert!(
            !v["error"]["message"].as_str().unwrap().contains("kaboom"),
            "causes are logged, never sent"
        );
    }
}
