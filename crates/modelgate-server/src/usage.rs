//! Usage records and charges are written in batches off the request path: a channel
//! feeds one writer that commits every `FLUSH_EVERY` or `BATCH` records, whichever
//! comes first, records and charges in one transaction. A crash loses at most the
//! last flush interval (unbilled usage, never an overdraft: the money stays leased).

use crate::billing::Ledger;
use modelgate_store::{Charge, SettleBatch, Store, UsageRecord};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
const BATCH: usize = 512;
const QUEUE: usize = 65_536;

enum Msg {
    Record(Box<UsageRecord>, Option<Charge>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<Msg>,
}

impl UsageSink {
    pub fn start(store: Arc<dyn Store>, ledger: Arc<Ledger>) -> UsageSink {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, ledger, rx));
        UsageSink { tx }
    }

    pub async fn record(&self, record: UsageRecord, charge: Option<Charge>) {
        if self
            .tx
            .send(Msg::Record(Box::new(record), charge))
            .await
            .is_err()
        {
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

async fn writer(store: Arc<dyn Store>, ledger: Arc<Ledger>, mut rx: mpsc::Receiver<Msg>) {
    let mut batch = SettleBatch {
        instance_id: ledger.instance_id().to_owned(),
        ..SettleBatch::default()
    };
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        let mut closed = false;
        while batch.records.len() < BATCH && waiters.is_empty() {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Record(r, charge)) => {
                        if let Some(mut c) = charge {
                            c.request_id.clone_from(&r.request_id);
                            batch.charges.push(c);
                        }
                        batch.records.push(*r);
                    }
                    Some(Msg::Flush(w)) => waiters.push(w),
                    None => { closed = true; break; }
                },
                _ = &mut deadline, if !batch.records.is_empty() => break,
            }
        }
        if !batch.records.is_empty() {
            write(store.as_ref(), &ledger, &batch).await;
            batch.records.clear();
            batch.charges.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if closed {
            return;
        }
    }
}

/// Retries a failed write a few times; the batch stays in memory meanwhile.
async fn write(store: &dyn Store, ledger: &Ledger, batch: &SettleBatch) {
    for attempt in 0..5u32 {
        match store.settle(batch).await {
            Ok(()) => {
                ledger.written(&batch.charges);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, records = batch.records.len(), "writing usage records failed");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
    tracing::error!(
        records = batch.records.len(),
        charges = batch.charges.len(),
        "usage batch dropped after 5 failed writes; its money stays leased until the lease expires"
    );
}
