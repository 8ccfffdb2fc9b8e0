//! JSON answers of the gateway's own (balances, usage, admin): USD amounts are written
//! as plain decimals (`0.000009`), never in exponent form (`9e-6`) as serde_json alone
//! would, so that every client parses them the same.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match modelgate_core::money::to_json_vec(value) {
        Ok(body) => {
            let mut resp = (status, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => crate::error_response::error_response(&modelgate_core::GatewayError::internal(e)),
    }
}

pub fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}
