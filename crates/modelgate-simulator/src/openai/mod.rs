//! OpenAI endpoints: chat completions (JSON and SSE), embeddings, models.

pub(crate) mod embeddings;
pub(crate) mod error;
pub(crate) mod request;
pub(crate) mod response;

use axum::response::Response;
use serde_json::json;

use crate::answer::answer;
use crate::body::{self, Headers};
use crate::errors::{self, Provider};
use crate::exchange::Req;

fn headers(seq: u64) -> Headers {
    vec![("x-request-id", format!("req_sim{seq:08}"))]
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) async fn chat(req: Req) -> Response {
    let parsed = req.json.clone().and_then(|v| request::parse_chat(&v));
    let target = match &parsed {
        Ok((p, _)) => Ok((p.model.as_str(), p.texts.as_slice())),
        Err(e) => Err(e.as_str()),
    };
    let active = match req.admit(Provider::OpenAi, target).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let Ok((prompt, include_usage)) = parsed else {
        return errors::invalid_request(Provider::OpenAi, "invalid request");
    };
    let a = answer(&prompt, active.safety);
    let meta = response::Meta {
        id: format!("chatcmpl-sim{:08}", active.seq),
        created: now(),
        model: &prompt.model,
        seq: active.seq,
    };
    if !prompt.stream {
        return body::json(
            &response::completion(&meta, &a),
            &active,
            headers(active.seq),
        );
    }
    let events = if active.garbage {
        vec![body::Event::content("data: {not json\n\n")]
    } else {
        response::chunks(&meta, &a, include_usage)
    };
    body::stream(events, &active, body::SSE, headers(active.seq))
}

pub(crate) async fn embeddings(req: Req) -> Response {
    let parsed = req.json.clone().and_then(|v| request::parse_embeddings(&v));
    let target = match &parsed {
        Ok(e) => Ok((e.model.as_str(), e.inputs.as_slice())),
        Err(e) => Err(e.as_str()),
    };
    let active = match req.admit(Provider::OpenAi, target).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let Ok(e) = parsed else {
        return errors::invalid_request(Provider::OpenAi, "invalid request");
    };
    body::json(
        &embeddings::response(&e, &e.model),
        &active,
        headers(active.seq),
    )
}

/// The fixed model list; `GET` carries no model, so only key checks apply.
pub(crate) async fn models(req: Req) -> Response {
    let active = match req.admit(Provider::OpenAi, Ok(("", &[]))).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let data: Vec<_> = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system" }))
        .collect();
    body::json(
        &json!({ "object": "list", "data": data }),
        &active,
        headers(active.seq),
    )
}
