//! Keyed streams resumable from any instance (DESIGN §5, §6): with Redis configured,
//! the events of a keyed stream are also appended, in order, to a Redis stream
//! (`XADD` with the event's own id), so that a client whose retry lands on another
//! instance follows them from its `Last-Event-ID` there. The record under the key
//! says the stream runs (a lease renewed by its instance) or is done (kept 24 h).

use super::remote::{Lease, RemoteRecords};
use crate::tasks::Tasks;
use bytes::Bytes;
use modelgate_core::GatewayError;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a follower on another instance looks for new events.
const POLL: Duration = Duration::from_millis(50);
/// A follower gives up when the record disappears for this long (its instance died
/// and the lease expired) or when nothing came for this long.
const STALE: Duration = Duration::from_secs(600);

pub(super) enum LogMsg {
    Event(u64, Bytes),
    /// The stream finished with a final outcome: keep it for replay.
    End,
    /// The stream failed transiently: forget it so the retry runs again.
    Forget,
}

/// The producer's side: events go to the writer task in order.
pub(super) struct RemoteSink {
    tx: mpsc::UnboundedSender<LogMsg>,
}

impl RemoteSink {
    pub(super) fn send(&self, msg: LogMsg) {
        let _ = self.tx.send(msg);
    }
}

/// Starts the task that mirrors one keyed stream into Redis; it holds the key's
/// in-flight lease until the stream ends.
pub(super) fn start_writer(tasks: &Tasks, lease: Lease, fingerprint: String) -> RemoteSink {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tasks.spawn(async move {
        let records = lease.records().clone();
        let events = lease.events_key();
        loop {
            match rx.recv().await {
                Some(LogMsg::Event(id, bytes)) => records.append(&events, id, &bytes).await,
                Some(LogMsg::End) => {
                    lease.store_stream_done(&fingerprint).await;
                    return;
                }
                Some(LogMsg::Forget) | None => {
                    // Transient, or the producer vanished without an ending.
                    records.delete(&events).await;
                    lease.release().await;
                    return;
                }
            }
        }
    });
    RemoteSink { tx }
}

/// A stream to follow on another instance.
pub struct RemoteFollow {
    pub(super) records: RemoteRecords,
    pub(super) record_key: String,
    pub(super) events_key: String,
    pub(super) after: u64,
}

impl RemoteFollow {
    /// Sends the events after `after` to `tx`, live until the stream's end marker;
    /// a `: keep-alive` comment every `keepalive` while none comes.
    pub async fn follow(self, tx: mpsc::Sender<Bytes>, keepalive: Duration) {
        if let Err(why) = self.relay(&tx, keepalive).await {
            // DESIGN §5: a stream never just stops: one error event, then [DONE].
            let e = GatewayError::NotReady {
                reason: format!(
                    "{why}; resend the request with the same Idempotency-Key to run it again."
                ),
            };
            let mut body = e.to_body();
            if let Some(err) = body.get_mut("error").and_then(|v| v.as_object_mut()) {
                err.insert("details".into(), serde_json::json!({"retryable": true}));
            }
            let payload = serde_json::to_vec(&body).unwrap_or_default();
            let _ = tx.send(crate::sse::data_event(&payload)).await;
            let _ = tx.send(crate::sse::data_event(b"[DONE]")).await;
        }
    }

    /// Relays until the end marker (Ok) or the client leaves (Ok); Err says why the
    /// stream cannot be followed to its end.
    async fn relay(&self, tx: &mpsc::Sender<Bytes>, keepalive: Duration) -> Result<(), String> {
        let mut last = self.after;
        let mut last_news = Instant::now();
        let mut last_sent = Instant::now();
        loop {
            let entries = match self.records.range_after(&self.events_key, last).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a keyed stream from Redis failed");
                    return Err("its events could not be read from Redis".into());
                }
            };
            for (id, fields) in &entries {
                if fields.contains_key("end") {
                    return Ok(());
                }
                if let Some(event) = fields.get("e") {
                    if tx.send(Bytes::copy_from_slice(event)).await.is_err() {
                        return Ok(());
                    }
                    last_sent = Instant::now();
                }
                last = *id;
                last_news = Instant::now();
            }
            if entries.is_empty() {
                if last_news.elapsed() > STALE || !self.records.exists(&self.record_key).await {
                    return Err(
                        "the instance running this stream stopped before it finished".into(),
                    );
                }
                if last_sent.elapsed() >= keepalive {
                    if tx
                        .send(Bytes::from_static(crate::sse::KEEPALIVE))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                    last_sent = Instant::now();
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// An entry's id (`0-<event id>`) and fields.
pub(super) type Entry = (u64, HashMap<String, Vec<u8>>);

pub(super) fn parse_entries(raw: Vec<(String, HashMap<String, Vec<u8>>)>) -> Vec<Entry> {
    raw.into_iter()
        .filter_map(|(id, fields)| {
            let seq = id.split_once('-')?.1.parse().ok()?;
            Some((seq, fields))
        })
        .collect()
}
