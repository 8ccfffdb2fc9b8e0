//! Idempotency-Key (DESIGN §5): executed once per (account, key value) for 24 h,
//! whichever of the account's API keys sends it. A repeat after completion replays the
//! stored answer (`Idempotent-Replayed: true`, not billed again); a repeat while the
//! first runs gets 409 `conflict`; the same key with another body gets 422. Transient
//! outcomes (429, 5xx) are not stored, so a retry runs again.
//!
//! Streams are resumable: a keyed stream's events go into a `StreamLog`, numbered from
//! 1, and every client — the first one included — follows the log, so a disconnect
//! never stops the stream. A client whose connection broke resends with
//! `Last-Event-ID: n` and gets exactly the events after n, live while the stream runs,
//! stored once it ended. In-process state: one instance.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use modelgate_core::GatewayError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const HEADER: &str = "idempotency-key";
const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
const MAX_KEY_CHARS: usize = 255;
/// How often (in new keys) entries older than `KEEP_FOR` are swept.
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

/// `Last-Event-ID`: the last event a resuming client saw.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, GatewayError> {
    headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    GatewayError::invalid(
                        "Last-Event-ID must be the decimal id of an event this stream sent.",
                        Some("Last-Event-ID"),
                    )
                })
        })
        .transpose()
}

mod budget;
mod log;
mod remote;
mod remote_stream;

use crate::tasks::Tasks;
use budget::Budget;
pub use log::StreamLog;
pub use remote::RemoteRecords;
pub use remote_stream::RemoteFollow;

struct Stored {
    status: http::StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Stored {
    /// What it holds in memory, near enough for the budget.
    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 32)
            .sum();
        self.body.len() + headers + 64
    }
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
    Streaming {
        fingerprint: [u8; 32],
        at: Instant,
        log: Arc<StreamLog>,
    },
}

impl Entry {
    /// When it finished (a running stream or request never is evicted).
    fn finished_at(&self) -> Option<Instant> {
        match self {
            Entry::InFlight { .. } => None,
            Entry::Done { at, .. } => Some(*at),
            Entry::Streaming { at, log, .. } => log.done().then_some(*at),
        }
    }

    fn fingerprint(&self) -> &[u8; 32] {
        match self {
            Entry::InFlight { fingerprint }
            | Entry::Done { fingerprint, .. }
            | Entry::Streaming { fingerprint, .. } => fingerprint,
        }
    }

    fn expired(&self) -> bool {
        match self {
            Entry::InFlight { .. } => false,
            Entry::Done { at, .. } | Entry::Streaming { at, .. } => at.elapsed() >= KEEP_FOR,
        }
    }
}

/// What kind of request is keyed.
#[derive(Clone, Copy)]
pub enum Mode {
    Plain,
    Stream { last_event_id: Option<u64> },
}

pub struct Idempotency {
    entries: Mutex<HashMap<(String, String), Entry>>,
    inserts: AtomicUsize,
    /// Plain answers are shared through Redis when configured.
    remote: Option<RemoteRecords>,
    budget: Arc<Budget>,
    tasks: Tasks,
}

type Entries = HashMap<(String, String), Entry>;

pub enum Begin {
    /// First time: run the request, then hand its answer to the ticket.
    Run(Ticket),
    /// Finished before: this is the answer to send.
    Replay(Response),
    /// A keyed stream: follow its log after this event id.
    Follow(Arc<StreamLog>, u64),
    /// A keyed stream of another instance: follow its events in Redis.
    FollowRemote(RemoteFollow),
}

/// The right to run a keyed request; dropped unfinished (a panic), it frees the key.
pub struct Ticket {
    idem: Arc<Idempotency>,
    scope: (String, String),
    fingerprint: [u8; 32],
    finished: bool,
    log: Option<Arc<StreamLog>>,
    remote: Option<remote::Lease>,
}

impl Idempotency {
    /// `max_bytes`: the in-process budget of stored answers and stream logs.
    pub fn new(remote: Option<RemoteRecords>, max_bytes: usize, tasks: Tasks) -> Idempotency {
        Idempotency {
            entries: Mutex::default(),
            inserts: AtomicUsize::new(0),
            remote,
            budget: Arc::new(Budget::new(max_bytes)),
            tasks,
        }
    }

    /// Puts an entry in, accounting for the one it replaces.
    fn put(&self, entries: &mut Entries, scope: (String, String), entry: Entry) {
        if let Entry::Done { stored, .. } = &entry {
            self.budget.add(stored.size());
        }
        if let Some(old) = entries.insert(scope, entry) {
            self.forget(old);
        }
        if self.budget.over() {
            self.evict(entries);
        }
    }

    fn remove(&self, entries: &mut Entries, scope: &(String, String)) {
        if let Some(old) = entries.remove(scope) {
            self.forget(old);
        }
    }

    /// An entry left the records: its bytes no longer count.
    fn forget(&self, entry: Entry) {
        match entry {
            Entry::InFlight { .. } => {}
            Entry::Done { stored, .. } => self.budget.sub(stored.size()),
            Entry::Streaming { log, .. } => self.budget.sub(log.detach()),
        }
    }

    /// Over the budget: the oldest finished records go first, down to the target.
    fn evict(&self, entries: &mut Entries) {
        let mut finished: Vec<(Instant, (String, String))> = entries
            .iter()
            .filter_map(|(scope, e)| e.finished_at().map(|at| (at, scope.clone())))
            .collect();
        finished.sort_unstable_by_key(|(at, _)| *at);
        let mut evicted = 0u64;
        for (_, scope) in finished {
            if self.budget.used() <= self.budget.target() {
                break;
            }
            self.remove(entries, &scope);
            evicted += 1;
        }
        metrics::counter!("modelgate_idempotency_evicted_total").increment(evicted);
        tracing::warn!(
            evicted,
            "idempotency records over their memory budget: the oldest were evicted"
        );
    }

    pub async fn begin(
        self: &Arc<Self>,
        account: &str,
        key: String,
        body: &[u8],
        mode: Mode,
    ) -> Result<Begin, GatewayError> {
        let Some(remote) = &self.remote else {
            return self.begin_local(account, key, body, mode);
        };
        // A stream this instance runs or keeps is followed from its own log.
        if matches!(mode, Mode::Stream { .. }) && self.has_local(account, &key) {
            return self.begin_local(account, key, body, mode);
        }
        let fingerprint: [u8; 32] = Sha256::digest(body).into();
        let stream = matches!(mode, Mode::Stream { .. });
        let claim = remote
            .claim(account, &key, &modelgate_store::hex(&fingerprint), stream)
            .await;
        let in_flight = GatewayError::IdempotencyInFlight {
            retry_after: Duration::from_secs(1),
        };
        match claim {
            Ok(remote::Claim::Run(lease)) if stream => {
                let begun = self.begin_local(account, key, body, mode)?;
                Ok(match begun {
                    Begin::Run(mut ticket) => {
                        // Held until the stream commits, then by its Redis writer.
                        ticket.remote = Some(lease);
                        Begin::Run(ticket)
                    }
                    other => {
                        tasks_release(&self.tasks, lease);
                        other
                    }
                })
            }
            Ok(remote::Claim::Run(lease)) => Ok(Begin::Run(Ticket {
                idem: Arc::clone(self),
                scope: (account.to_owned(), key),
                fingerprint,
                finished: false,
                log: None,
                remote: Some(lease),
            })),
            Ok(remote::Claim::InFlight { same_body: true }) => Err(in_flight),
            Ok(remote::Claim::Done {
                same_body: true,
                stored,
            }) => Ok(Begin::Replay(replay(&stored))),
            Ok(remote::Claim::Streaming {
                same_body: true,
                done,
                follow,
            }) => {
                let after = match (mode, done) {
                    (
                        Mode::Stream {
                            last_event_id: Some(after),
                        },
                        _,
                    ) => after,
                    (Mode::Stream { .. }, true) => 0,
                    _ => return Err(in_flight),
                };
                Ok(Begin::FollowRemote(RemoteFollow {
                    records: follow.records,
                    record_key: follow.record_key,
                    events_key: follow.events_key,
                    after,
                }))
            }
            Ok(_) => Err(GatewayError::IdempotencyMismatch),
            Err(e) => {
                tracing::warn!(error = %e, "idempotency in Redis failed; this instance decides alone");
                self.begin_local(account, key, body, mode)
            }
        }
    }

    fn has_local(&self, account: &str, key: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(account.to_owned(), key.to_owned()))
            .is_some_and(|e| !e.expired())
    }

    fn begin_local(
        self: &Arc<Self>,
        account: &str,
        key: String,
        body: &[u8],
        mode: Mode,
    ) -> Result<Begin, GatewayError> {
        let fingerprint: [u8; 32] = Sha256::digest(body).into();
        let scope = (account.to_owned(), key);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get(&scope).filter(|e| !e.expired()) {
            if *entry.fingerprint() != fingerprint {
                return Err(GatewayError::IdempotencyMismatch);
            }
            let in_flight = GatewayError::IdempotencyInFlight {
                retry_after: Duration::from_secs(1),
            };
            return match (entry, mode) {
                (Entry::InFlight { .. }, _) => Err(in_flight),
                (Entry::Done { stored, .. }, _) => Ok(Begin::Replay(replay(stored))),
                (
                    Entry::Streaming { log, .. },
                    Mode::Stream {
                        last_event_id: Some(after),
                    },
                ) => Ok(Begin::Follow(Arc::clone(log), after)),
                (Entry::Streaming { log, .. }, _) if log.done() => {
                    Ok(Begin::Follow(Arc::clone(log), 0))
                }
                (Entry::Streaming { .. }, _) => Err(in_flight),
            };
        }
        let log = matches!(mode, Mode::Stream { .. })
            .then(|| Arc::new(StreamLog::counted(Arc::clone(&self.budget))));
        let entry = match &log {
            Some(log) => Entry::Streaming {
                fingerprint,
                at: Instant::now(),
                log: Arc::clone(log),
            },
            None => Entry::InFlight { fingerprint },
        };
        self.put(&mut entries, scope.clone(), entry);
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let expired: Vec<(String, String)> = entries
                .iter()
                .filter(|(_, e)| e.expired())
                .map(|(scope, _)| scope.clone())
                .collect();
            for scope in &expired {
                self.remove(&mut entries, scope);
            }
        }
        Ok(Begin::Run(Ticket {
            idem: Arc::clone(self),
            scope,
            fingerprint,
            finished: false,
            log,
            remote: None,
        }))
    }
}

impl Ticket {
    /// The log a keyed stream writes its events to.
    pub fn log(&self) -> Option<Arc<StreamLog>> {
        self.log.clone()
    }

    /// A keyed stream committed its 200: from now on its log is the stored answer,
    /// unless the stream ends in a transient failure (`StreamedKey::transient`).
    pub fn streamed(mut self) -> StreamedKey {
        self.finished = true;
        if let (Some(lease), Some(log)) = (self.remote.take(), &self.log) {
            let fingerprint = modelgate_store::hex(&self.fingerprint);
            let sink = remote_stream::start_writer(&self.idem.tasks, lease, fingerprint);
            let _ = log.remote.set(sink);
        }
        StreamedKey {
            idem: Arc::clone(&self.idem),
            scope: self.scope.clone(),
            log: self.log.clone(),
        }
    }

    /// Stores a final answer (or frees the key for a transient one) and returns it.
    pub async fn finish(mut self, resp: Response) -> Response {
        self.finished = true;
        let status = resp.status();
        let transient = status.as_u16() == 429 || status.is_server_error();
        if transient {
            if let Some(lease) = self.remote.take() {
                lease.release().await;
            }
            self.release();
            return resp;
        }
        let (parts, body) = resp.into_parts();
        // Answers stored here are built in memory: collecting them costs a copy.
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
        if let Some(lease) = self.remote.take() {
            lease
                .store(&modelgate_store::hex(&self.fingerprint), &stored)
                .await;
            // A keyed stream's local record must end too (it holds a log).
            if self.log.is_none() {
                return Response::from_parts(parts, Body::from(bytes));
            }
        }
        let mut entries = self.idem.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.idem.put(
            &mut entries,
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
        if matches!(
            entries.get(&self.scope),
            Some(Entry::InFlight { .. } | Entry::Streaming { .. })
        ) {
            self.idem.remove(&mut entries, &self.scope);
        }
    }
}

/// A committed keyed stream's place in the records.
pub struct StreamedKey {
    idem: Arc<Idempotency>,
    scope: (String, String),
    log: Option<Arc<StreamLog>>,
}

impl StreamedKey {
    /// DESIGN §5: transient outcomes are not stored. A stream that failed with a
    /// retriable error frees its key once its log is finished, so the client's retry
    /// runs again instead of replaying the failure; clients already following it
    /// still get every event, the error included.
    pub fn transient(self) {
        if let Some(log) = &self.log {
            log.mark_transient();
        }
        let mut entries = self.idem.entries.lock().unwrap_or_else(|p| p.into_inner());
        let ours = match (entries.get(&self.scope), &self.log) {
            (Some(Entry::Streaming { log, .. }), Some(mine)) => Arc::ptr_eq(log, mine),
            _ => false,
        };
        if ours {
            self.idem.remove(&mut entries, &self.scope);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            if let Some(lease) = self.remote.take() {
                tasks_release(&self.idem.tasks, lease);
            }
            self.release();
        }
    }
}

fn tasks_release(tasks: &Tasks, lease: remote::Lease) {
    tasks.spawn(lease.release());
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
mod tests;
