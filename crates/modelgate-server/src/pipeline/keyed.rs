//! Reading a JSON request body together with its Idempotency-Key: the first step of
//! every JSON endpoint after auth (DESIGN §1: 400 body, then the key's replay/409/422).

use crate::auth::Authed;
use crate::error_response::error_response;
use crate::extract::{check_json_content_type, read_body_timed};
use crate::idempotency::{key_from, Begin, Mode, RemoteFollow, StreamLog, Ticket};
use crate::pipeline::record::Record;
use crate::state::AppState;
use axum::body::Body;
use axum::response::Response;
use http::HeaderMap;
use modelgate_core::openai::parse_json_body;
use modelgate_core::GatewayError;
use serde::de::DeserializeOwned;
use std::time::Duration;

pub struct Keyed<T> {
    pub request: T,
    /// Present when the request carried an Idempotency-Key: the answer goes through it.
    pub ticket: Option<Ticket>,
}

/// Why a request ends before its handler's own work.
pub enum Early {
    Refuse(GatewayError),
    /// A finished request with the same key: its stored answer.
    Replay(Response),
}

impl From<GatewayError> for Early {
    fn from(e: GatewayError) -> Self {
        Early::Refuse(e)
    }
}

/// `mode` says how the parsed request is keyed: a plain answer or a resumable stream.
pub async fn read_keyed<T: DeserializeOwned>(
    state: &AppState,
    authed: &Authed,
    headers: &HeaderMap,
    body: Body,
    mode: impl Fn(&T) -> Mode,
) -> Result<Keyed<T>, Early> {
    check_json_content_type(headers)?;
    let server = &state.config.server;
    let timeout = Duration::from_millis(server.body_timeout_ms.max(1));
    let bytes = read_body_timed(headers, body, server.max_body_bytes as usize, timeout).await?;
    let request: T = parse_json_body(&bytes)?;
    let ticket = match key_from(headers)? {
        Some(key) => {
            match state
                .idempotency
                .begin(&authed.account.id, key, &bytes, mode(&request))
                .await?
            {
                Begin::Run(ticket) => Some(ticket),
                Begin::Replay(resp) => return Err(Early::Replay(resp)),
                Begin::Follow(log, after) => return Err(Early::Replay(follow(state, log, after))),
                Begin::FollowRemote(remote) => {
                    return Err(Early::Replay(follow_remote(state, remote)))
                }
            }
        }
        None => None,
    };
    Ok(Keyed { request, ticket })
}

/// Answers a request that ended early, recording it (every authenticated request gets
/// a usage record; a replay is recorded unbilled).
pub async fn answer_early(state: &AppState, record: Record, early: Early) -> Response {
    match early {
        Early::Refuse(e) => refuse(state, record, None, e).await,
        Early::Replay(resp) => {
            record.finish(state, resp.status().as_u16(), None).await;
            resp
        }
    }
}

/// Answers a refusal before any upstream call; a keyed refusal is stored like any
/// other final answer (transient ones are not).
pub async fn refuse(
    state: &AppState,
    record: Record,
    ticket: Option<Ticket>,
    e: GatewayError,
) -> Response {
    let resp = error_response(&e);
    record.finish(state, e.status(), Some(&e)).await;
    match ticket {
        Some(t) => t.finish(resp).await,
        None => resp,
    }
}

/// A keyed stream another instance runs or ran: its events after the client's
/// `Last-Event-ID`, from Redis, live while it runs.
pub fn follow_remote(state: &AppState, remote: RemoteFollow) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let keepalive = Duration::from_millis(state.config.retry.stream_keepalive_ms.max(1));
    state.tasks.spawn(remote.follow(tx, keepalive));
    let mut resp = crate::sse::response(rx);
    resp.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    resp
}

/// A resumed keyed stream: its events after `after`, live while it runs.
pub fn follow(state: &AppState, log: std::sync::Arc<StreamLog>, after: u64) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    state.tasks.spawn(log.follow(after, tx));
    let mut resp = crate::sse::response(rx);
    resp.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    resp
}
