//! Endpoints whose models the catalog already knows but whose upstream translation is
//! not built yet: they run every catalog check (so a chat model sent to
//! /v1/images/edits gets its `unsupported_operation` with the right suggestion) and
//! then answer 503 saying so.

use crate::auth::Authed;
use crate::extract::{read_body_timed, read_json};
use crate::pipeline::admit::admit;
use crate::pipeline::keyed::refuse;
use crate::pipeline::record::Record;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use modelgate_core::catalog::Operation;
use modelgate_core::GatewayError;
use serde::Deserialize;

#[derive(Deserialize)]
struct ModelOnly {
    model: String,
}

async fn json_endpoint(
    state: AppState,
    rid: RequestId,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
    op: Operation,
) -> Response {
    let record = Record::start(&authed, &rid.0);
    let limit = state.config.server.max_body_bytes as usize;
    let model = match read_json::<ModelOnly>(&headers, body, limit, state.body_timeout()).await {
        Ok(m) => m.model,
        Err(e) => return refuse(&state, record, None, e).await,
    };
    finish(state, record, &authed, &model, op).await
}

async fn finish(
    state: AppState,
    mut record: Record,
    authed: &Authed,
    model: &str,
    op: Operation,
) -> Response {
    record.set_requested_model(model);
    let e = match admit(&state, authed, model, op) {
        Err(e) => e,
        Ok(resolved) => GatewayError::ProviderUnavailable {
            model: resolved.model.id.clone(),
            reason: format!("this gateway build does not serve {} yet.", op.endpoint()),
            retry_after: None,
        },
    };
    refuse(&state, record, None, e).await
}

/// Multipart (OpenAI's shape) or JSON; only the `model` field matters here.
pub async fn images_edits(
    State(s): State<AppState>,
    Extension(r): Extension<RequestId>,
    a: Authed,
    h: HeaderMap,
    b: Body,
) -> Response {
    let content_type = h
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(boundary) = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return json_endpoint(s, r, a, h, b, Operation::ImagesEdits).await;
    };
    let record = Record::start(&a, &r.0);
    let limit = s.config.server.max_body_bytes as usize;
    let bytes = match read_body_timed(&h, b, limit, s.body_timeout()).await {
        Ok(b) => b,
        Err(e) => return refuse(&s, record, None, e).await,
    };
    match multipart_field(&bytes, &boundary, "model") {
        Some(model) => finish(s, record, &a, &model, Operation::ImagesEdits).await,
        None => {
            let e = GatewayError::invalid(
                "The multipart body has no 'model' field. Add the model's canonical ID.",
                Some("model"),
            );
            refuse(&s, record, None, e).await
        }
    }
}

/// The text value of one multipart form field.
fn multipart_field(body: &[u8], boundary: &str, name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let wanted = format!("name=\"{name}\"");
    text.split(delimiter.as_str()).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        head.contains(&wanted)
            .then(|| value.trim_end_matches("\r\n").trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_multipart_field() {
        let body = b"--xx\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--xx\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndemo/echo\r\n--xx--\r\n";
        assert_eq!(
            super::multipart_field(body, "xx", "model").as_deref(),
            Some("demo/echo")
        );
    }
}
