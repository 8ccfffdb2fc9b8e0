//! Anthropic Messages endpoints: `/v1/messages` (JSON and SSE) and count_tokens.

pub(crate) mod error;
pub(crate) mod request;
pub(crate) mod response;

use axum::response::Response;
use serde_json::json;

use crate::answer::{answer, Prompt};
use crate::body::{self, Headers};
use crate::errors::{self, Provider};
use crate::exchange::Req;

fn headers(seq: u64) -> Headers {
    vec![("request-id", format!("req_sim{seq:08}"))]
}

/// The body parsed, unless the mandatory `anthropic-version` header is missing.
fn parse(req: &Req, count_only: bool) -> Result<(Prompt, bool), String> {
    if !req.headers.contains_key("anthropic-version") {
        return Err("anthropic-version: header is required".to_string());
    }
    req.json
        .clone()
        .and_then(|v| request::parse(&v, count_only))
}

pub(crate) async fn messages(req: Req) -> Response {
    let parsed = parse(&req, false);
    let target = match &parsed {
        Ok((p, _)) => Ok((p.model.as_str(), p.texts.as_slice())),
        Err(e) => Err(e.as_str()),
    };
    let active = match req.admit(Provider::Anthropic, target).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let Ok((prompt, thinking)) = parsed else {
        return errors::invalid_request(Provider::Anthropic, "invalid request");
    };
    let a = answer(&prompt, active.safety);
    let meta = response::Meta {
        id: format!("msg_sim{:08}", active.seq),
        model: &prompt.model,
        seq: active.seq,
        thinking,
    };
    if !prompt.stream {
        return body::json(&response::message(&meta, &a), &active, headers(active.seq));
    }
    let events = if active.garbage {
        vec![body::Event::content(
            "event: content_block_delta\ndata: {not json\n\n",
        )]
    } else {
        response::events(&meta, &a)
    };
    body::stream(events, &active, body::SSE, headers(active.seq))
}

pub(crate) async fn count_tokens(req: Req) -> Response {
    let parsed = parse(&req, true);
    let target = match &parsed {
        Ok((p, _)) => Ok((p.model.as_str(), p.texts.as_slice())),
        Err(e) => Err(e.as_str()),
    };
    let active = match req.admit(Provider::Anthropic, target).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let Ok((prompt, _)) = parsed else {
        return errors::invalid_request(Provider::Anthropic, "invalid request");
    };
    let tokens = crate::answer::count_words(&prompt.texts);
    body::json(
        &json!({ "input_tokens": tokens }),
        &active,
        headers(active.seq),
    )
}
