//! `x-request-id` on every response: a client's own id of at most 128 printable ASCII
//! characters is kept, any other is replaced (DESIGN §1).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::getrandom(&mut bytes).is_err() {
        bytes = (modelgate_core::time_fmt::now_unix_ms() as u128).to_le_bytes()[..12]
            .try_into()
            .unwrap_or([0; 12]);
    }
    let mut id = String::with_capacity(28);
    id.push_str("req_");
    id.push_str(&modelgate_store::hex(&bytes));
    id
}

fn acceptable(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x21..=0x7e).contains(&b))).then_some(s)
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(acceptable)
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    // Error causes are logged here, never sent (STYLE: the error rides in extensions).
    if let Some(info) = resp.extensions().get::<crate::error_response::ErrorInfo>() {
        let status = resp.status().as_u16();
        if status == 500 {
            tracing::error!(request_id = %id, %method, %path, status, error_type = info.error_type, cause = %info.cause, "request failed");
        } else if status > 500 {
            // Upstream trouble, already mapped: worth a look, not a gateway bug.
            tracing::warn!(request_id = %id, %method, %path, status, error_type = info.error_type, cause = %info.cause, "upstream failed");
        } else {
            tracing::debug!(request_id = %id, %method, %path, status, error_type = info.error_type, "request refused");
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
