//! The steps every simulated call shares: read the request, record it, check the
//! key, then apply its faults (fail_times, delay, reset, status) before the
//! provider module renders an answer.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;

use crate::directives::{self, Directives};
use crate::errors::{self, Failure, Provider};
use crate::server::ConnHandle;
use crate::state::Shared;
use crate::RecordedRequest;

/// Larger than any provider accepts, so the gateway's own limits are what tests meet.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One incoming request with everything the handlers need.
pub(crate) struct Req {
    pub shared: Arc<Shared>,
    conn: Option<ConnHandle>,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// `Ok` for a JSON body (`Null` when empty), else the parse error message.
    pub json: Result<Value, String>,
    raw: Bytes,
}

impl FromRequest<Arc<Shared>> for Req {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let conn = req.extensions().get::<ConnHandle>().cloned();
        let (parts, body) = req.into_parts();
        let raw = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
            errors::json(
                413,
                &crate::openai::error::body(&e.to_string(), "invalid_request_error", None, None),
            )
        })?;
        let json = if raw.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            serde_json::from_slice(&raw)
                .map_err(|e| format!("We could not parse the JSON body of your request: {e}"))
        };
        Ok(Req {
            shared: Arc::clone(state),
            conn,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            json,
            raw,
        })
    }
}

/// The faults left for the renderer once the request was admitted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Active {
    pub chunk_delay: Duration,
    pub cut_after: Option<usize>,
    pub garbage: bool,
    pub safety: bool,
    /// Unique per request, for response ids.
    pub seq: u64,
}

/// What the provider module read from the body: the model and every message text.
pub(crate) type Target<'a> = Result<(&'a str, &'a [String]), &'a str>;

impl Req {
    /// Records the request and applies its faults. `Err` is the answer to send
    /// (auth failure, bad request, requested error); a `reset` never returns.
    pub(crate) async fn admit(
        &self,
        provider: Provider,
        target: Target<'_>,
    ) -> Result<Active, Response> {
        let directives = match target {
            Ok((model, texts)) => directives::collect(model, texts.iter().map(String::as_str)),
            Err(e) => Err(e.to_string()),
        };
        self.record(directives.as_ref().ok().and_then(|d| d.id.clone()));
        let query = self.uri.query();
        if let Some(resp) = crate::auth::check(
            self.shared.config.api_key.as_deref(),
            provider,
            &self.headers,
            query,
        ) {
            return Err(resp);
        }
        let d = directives.map_err(|message| errors::invalid_request(provider, &message))?;
        let model = target
            .map(|(m, _)| directives::split_model(m).0)
            .unwrap_or("");
        self.apply(provider, self.shared.gate(d), model).await
    }

    async fn apply(
        &self,
        provider: Provider,
        d: Directives,
        model: &str,
    ) -> Result<Active, Response> {
        if let Some(ms) = d.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if d.reset {
            if let Some(conn) = &self.conn {
                conn.kill();
                // The connection task drops this future together with the socket.
                std::future::pending::<()>().await;
            }
        }
        if let Some(location) = &d.redirect {
            return Err(errors::redirect(location));
        }
        if d.status.is_some() || d.code.is_some() {
            let failure = Failure {
                status: d.status,
                code: d.code.as_deref(),
                retry_after: d.retry_after,
                model,
            };
            return Err(errors::fault(provider, &failure));
        }
        Ok(Active {
            chunk_delay: Duration::from_millis(d.chunk_delay_ms.unwrap_or(0)),
            cut_after: d.cut_after,
            garbage: d.garbage,
            safety: d.safety,
            seq: self.shared.next_seq(),
        })
    }

    /// Records the request under `id` (done by `admit`; other paths call it directly).
    pub(crate) fn record(&self, id: Option<String>) {
        let body = match &self.json {
            Ok(v) => v.clone(),
            Err(_) => Value::String(String::from_utf8_lossy(&self.raw).into_owned()),
        };
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let recorded = RecordedRequest {
            method: self.method.to_string(),
            path: self.uri.path().to_string(),
            headers,
            body,
        };
        self.shared.record(id, recorded);
    }
}
