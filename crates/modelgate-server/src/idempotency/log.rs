//! A keyed stream's events, numbered from 1, that every client follows (DESIGN §5):
//! counted against the records' memory budget, mirrored into Redis when configured.

use super::budget::Budget;
use super::remote_stream::{LogMsg, RemoteSink};
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// The events of a keyed stream, each data event numbered; followers wait on `changed`.
#[derive(Default)]
pub struct StreamLog {
    state: Mutex<LogState>,
    changed: Notify,
    /// Counts the log's bytes while it is one of the records.
    budget: Option<Arc<Budget>>,
    /// Mirrors the events into Redis, for resumes on other instances.
    pub(super) remote: std::sync::OnceLock<RemoteSink>,
}

#[derive(Default)]
struct LogState {
    /// (event id, bytes as sent); comments have no id.
    entries: Vec<(Option<u64>, Bytes)>,
    last_id: u64,
    done: bool,
    bytes: usize,
    /// No longer one of the records: its bytes are no longer counted.
    detached: bool,
    /// Ends in a transient failure: not kept for replay anywhere.
    transient: bool,
}

impl LogState {
    fn push(&mut self, id: Option<u64>, event: Bytes, budget: Option<&Arc<Budget>>) {
        // An entry's own weight (id, Bytes handle) on top of its bytes.
        let size = event.len() + 40;
        self.bytes += size;
        if let Some(b) = budget.filter(|_| !self.detached) {
            b.add(size);
        }
        self.entries.push((id, event));
    }
}

impl StreamLog {
    /// A log whose bytes count against `budget`.
    pub(super) fn counted(budget: Arc<Budget>) -> StreamLog {
        StreamLog {
            budget: Some(budget),
            ..StreamLog::default()
        }
    }

    fn update(&self, f: impl FnOnce(&mut LogState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_waiters();
    }

    /// Appends `id: <n>` and `data: <payload>` with the next id.
    pub fn push_data(&self, payload: &[u8]) {
        let budget = self.budget.as_ref();
        self.update(|s| {
            s.last_id += 1;
            let mut event = format!("id: {}\ndata: ", s.last_id).into_bytes();
            event.extend_from_slice(payload);
            event.extend_from_slice(b"\n\n");
            let id = s.last_id;
            let event = Bytes::from(event);
            if let Some(remote) = self.remote.get() {
                remote.send(LogMsg::Event(id, event.clone()));
            }
            s.push(Some(id), event, budget);
        });
    }

    pub fn push_comment(&self, comment: &'static [u8]) {
        let budget = self.budget.as_ref();
        self.update(|s| s.push(None, Bytes::from_static(comment), budget));
    }

    /// Leaves the records: returns the bytes counted so far (once).
    pub(super) fn detach(&self) -> usize {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.detached {
            return 0;
        }
        s.detached = true;
        s.bytes
    }

    /// Ends the log (once: later calls change nothing).
    pub fn finish(&self) {
        let remote = self.remote.get();
        self.update(|s| {
            if !s.done {
                s.done = true;
                if let Some(r) = remote {
                    r.send(if s.transient {
                        LogMsg::Forget
                    } else {
                        LogMsg::End
                    });
                }
            }
        });
    }

    pub(super) fn mark_transient(&self) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .transient = true;
    }

    pub(super) fn done(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).done
    }

    /// Sends every entry after event `after` to `tx`, then follows the stream until
    /// it ends or the client leaves.
    pub async fn follow(self: Arc<Self>, after: u64, tx: mpsc::Sender<Bytes>) {
        let mut next = {
            let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.entries
                .iter()
                .position(|(id, _)| id.is_some_and(|i| i > after))
                .unwrap_or(s.entries.len())
        };
        loop {
            let changed = self.changed.notified();
            let (batch, done) = {
                let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                (s.entries[next.min(s.entries.len())..].to_vec(), s.done)
            };
            next += batch.len();
            for (_, bytes) in batch {
                if tx.send(bytes).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
            changed.await;
        }
    }
}
