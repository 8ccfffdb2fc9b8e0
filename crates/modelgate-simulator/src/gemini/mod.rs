//! Gemini endpoints: `/v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse` or a streamed JSON array) and `:countTokens`.

pub(crate) mod error;
pub(crate) mod request;
pub(crate) mod response;

use axum::extract::Path;
use axum::response::Response;
use serde_json::json;

use crate::answer::answer;
use crate::auth::query_param;
use crate::body;
use crate::errors::{self, Provider};
use crate::exchange::Req;

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Generate,
    Stream,
    CountTokens,
}

/// The wildcard route hands us `gemini-2.0-flash@status=503:generateContent`
/// (percent-decoded); the method follows the last colon.
pub(crate) async fn generate(Path(rest): Path<String>, req: Req) -> Response {
    let (model, method) = rest.rsplit_once(':').unwrap_or((rest.as_str(), ""));
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "countTokens" => Method::CountTokens,
        _ => {
            req.record(None);
            let message = format!("Method not found: models/{rest}");
            return errors::json(404, &error::body(404, "NOT_FOUND", &message));
        }
    };
    let parsed = req
        .json
        .clone()
        .and_then(|v| request::parse(&v, model, method == Method::Stream));
    let target = match &parsed {
        Ok(p) => Ok((p.model.as_str(), p.texts.as_slice())),
        Err(e) => Err(e.as_str()),
    };
    let active = match req.admit(Provider::Gemini, target).await {
        Ok(active) => active,
        Err(resp) => return resp,
    };
    let Ok(prompt) = parsed else {
        return errors::invalid_request(Provider::Gemini, "invalid request");
    };
    let a = answer(&prompt, active.safety);
    if method == Method::CountTokens {
        return body::json(
            &json!({ "totalTokens": a.prompt_tokens }),
            &active,
            Vec::new(),
        );
    }
    let meta = response::Meta {
        response_id: format!("sim{:08}", active.seq),
        model: &prompt.model,
    };
    if method == Method::Generate {
        return body::json(&response::whole(&meta, &a), &active, Vec::new());
    }
    let sse = query_param(req.uri.query(), "alt") == Some("sse");
    let events = if active.garbage {
        vec![body::Event::content(if sse {
            "data: {not json\r\n\r\n"
        } else {
            "[{not json"
        })]
    } else {
        response::frame(response::chunks(&meta, &a), active.safety, sse)
    };
    let content_type = if sse { "text/event-stream" } else { body::JSON };
    body::stream(events, &active, content_type, Vec::new())
}
