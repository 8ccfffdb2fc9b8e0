//! Usage records are written in batches off the request path: a channel feeds one
//! writer that flushes every `FLUSH_EVERY` or `BATCH` records, whichever comes first.
//! A crash loses at most the records of the last flush interval (README: durability).

use modelgate_store::{Store, UsageRecord};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
const BATCH: usize = 512;
const QUEUE: usize = 65_536;

enum Msg {
    Record(Box<UsageRecord>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<Msg>,
}

impl UsageSink {
    pub fn start(store: Arc<dyn Store>) -> UsageSink {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, rx));
        UsageSink { tx }
    }

    pub async fn record(&self, record: UsageRecord) {
        if self.tx.send(Msg::Record(Box::new(record))).await.is_err() {
            tracing::error!("usage writer is gone; a usage record was lost");
        }
    }

    /// Waits until everything recorded so far is written (tests, shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<UsageRecord> = Vec::with_capacity(BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        let mut closed = false;
        while batch.len() < BATCH && waiters.is_empty() {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Record(r)) => batch.push(*r),
                    Some(Msg::Flush(w)) => waiters.push(w),
                    None => { closed = true; break; }
                },
                _ = &mut deadline, if !batch.is_empty() => break,
            }
        }
        if !batch.is_empty() {
            // Retry a failed write a few times; the records stay in memory meanwhile.
            for attempt in 0..5u32 {
                match store.insert_usage(&batch).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, records = batch.len(), "writing usage records failed");
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    }
                }
            }
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if closed {
            return;
        }
    }
}
