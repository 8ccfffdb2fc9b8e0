//! Idempotency-Key (DESIGN §5) for non-streamed requests: executed once per
//! (account, key value) for 24 h, whichever of the account's API keys sends it. A
//! repeat after completion replays the stored answer (`Idempotent-Replayed: true`,
//! not billed again); a repeat while the first runs gets 409 `conflict`; the same key
//! with another body gets 422. Transient outcomes (429, 5xx) are not stored, so a retry
//! runs again. In-process state: one instance.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use modelgate_core::GatewayError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const HEADER: &str = "idempotency-key";
const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
const MAX_KEY_CHARS: usize = 255;
/// How often (in new keys) finished entries older than `KEEP_FOR` are swept.
const SWEEP_EVERY: usize = 1024;

/// The key value from the header: 1-255 characters; a quoted string (IETF draft) is
/// the same key as its unquoted content.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    let unquoted = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let chars = unquoted.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(GatewayError::invalid(
            format!("The Idempotency-Key header must be 1 to {MAX_KEY_CHARS} characters long. Send a unique value per logical request, such as a UUID."),
            Some("Idempotency-Key"),
        ));
    }
    Ok(Some(unquoted.to_owned()))
}

struct Stored {
    status: http::StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

enum Entry {
    InFlight {
        fingerprint: [u8; 32],
    },
    Done {
        fingerprint: [u8; 32],
        at: Instant,
        stored: Arc<Stored>,
    },
}

#[derive(Default)]
pub struct Idempotency {
    entries: Mutex<HashMap<(String, String), Entry>>,
    inserts: std::sync::atomic::AtomicUsize,
}

pub enum Begin {
    /// First time: run the request, then hand its answer to the ticket.
    Run(Ticket),
    /// Finished before: this is the answer to send.
    Replay(Response),
}

/// The right to run a keyed request; dropped unfinished (a panic), it frees the key.
pub struct Ticket {
    idem: Arc<Idempotency>,
    scope: (String, String),
    fingerprint: [u8; 32],
    finished: bool,
}

impl Idempotency {
    pub fn begin(
        self: &Arc<Self>,
        account: &str,
        key: String,
        body: &[u8],
    ) -> Result<Begin, GatewayError> {
        let fingerprint: [u8; 32] = Sha256::digest(body).into();
        let scope = (account.to_owned(), key);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&scope) {
            Some(Entry::InFlight { fingerprint: f }) if *f == fingerprint => {
                return Err(GatewayError::IdempotencyInFlight {
                    retry_after: Duration::from_secs(1),
                })
            }
            Some(Entry::Done {
                fingerprint: f,
                at,
                stored,
            }) if at.elapsed() < KEEP_FOR => {
                if *f != fingerprint {
                    return Err(GatewayError::IdempotencyMismatch);
                }
                return Ok(Begin::Replay(replay(stored)));
            }
            Some(Entry::InFlight { .. }) => return Err(GatewayError::IdempotencyMismatch),
            _ => {}
        }
        entries.insert(scope.clone(), Entry::InFlight { fingerprint });
        if self
            .inserts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % SWEEP_EVERY
            == SWEEP_EVERY - 1
        {
            entries.retain(|_, e| !matches!(e, Entry::Done { at, .. } if at.elapsed() >= KEEP_FOR));
        }
        Ok(Begin::Run(Ticket {
            idem: Arc::clone(self),
            scope,
            fingerprint,
            finished: false,
        }))
    }
}

impl Ticket {
    /// Stores a final answer (or frees the key for a transient one) and returns it.
    pub async fn finish(mut self, resp: Response) -> Response {
        self.finished = true;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            self.release();
            return resp;
        }
        let (parts, body) = resp.into_parts();
        // Non-streamed answers are built in memory: collecting them costs a copy.
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let stored = Arc::new(Stored {
            status,
            headers: parts.headers.clone(),
            body: bytes.clone(),
        });
        let mut entries = self.idem.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(
            self.scope.clone(),
            Entry::Done {
                fingerprint: self.fingerprint,
                at: Instant::now(),
                stored,
            },
        );
        Response::from_parts(parts, Body::from(bytes))
    }

    fn release(&self) {
        let mut entries = self.idem.entries.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(entries.get(&self.scope), Some(Entry::InFlight { .. })) {
            entries.remove(&self.scope);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            self.release();
        }
    }
}

fn replay(stored: &Stored) -> Response {
    let mut resp = Response::new(Body::from(stored.body.clone()));
    *resp.status_mut() = stored.status;
    *resp.headers_mut() = stored.headers.clone();
    resp.headers_mut().remove("x-request-id");
    resp.headers_mut().remove("server-timing");
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn quoted_keys_are_the_same_key_and_lengths_are_checked() {
        assert_eq!(key_from(&headers("\"abc\"")).unwrap(), Some("abc".into()));
        assert_eq!(key_from(&headers("abc")).unwrap(), Some("abc".into()));
        assert!(key_from(&headers("\"\"")).is_err());
        assert!(key_from(&headers(&"k".repeat(256))).is_err());
        assert_eq!(key_from(&HeaderMap::new()).unwrap(), None);
    }

    #[tokio::test]
    async fn run_once_replay_conflict_and_mismatch() {
        let idem = Arc::new(Idempotency::default());
        let Begin::Run(ticket) = idem.begin("a", "k".into(), b"{}").unwrap() else {
            panic!()
        };
        assert!(matches!(
            idem.begin("a", "k".into(), b"{}"),
            Err(GatewayError::IdempotencyInFlight { .. })
        ));
        assert!(matches!(
            idem.begin("a", "k".into(), b"{1}"),
            Err(GatewayError::IdempotencyMismatch)
        ));
        assert!(
            matches!(idem.begin("b", "k".into(), b"{}"), Ok(Begin::Run(_))),
            "scoped per account"
        );
        ticket.finish(Response::new(Body::from("answer"))).await;
        let Ok(Begin::Replay(r)) = idem.begin("a", "k".into(), b"{}") else {
            panic!()
        };
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert!(matches!(
            idem.begin("a", "k".into(), b"{2}"),
            Err(GatewayError::IdempotencyMismatch)
        ));
    }

    #[tokio::test]
    async fn transient_outcomes_are_not_stored() {
        let idem = Arc::new(Idempotency::default());
        let Ok(Begin::Run(ticket)) = idem.begin("a", "k".into(), b"{}") else {
            panic!()
        };
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = http::StatusCode::BAD_GATEWAY;
        ticket.finish(resp).await;
        assert!(matches!(
            idem.begin("a", "k".into(), b"{}"),
            Ok(Begin::Run(_))
        ));
    }
}
