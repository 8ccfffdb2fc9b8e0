//! Usage records and charges are written in batches off the request path: a channel
//! feeds one writer that commits every `FLUSH_EVERY` or `BATCH` records, whichever
//! comes first, records and charges in one transaction.
//!
//! No charge is ever dropped. A batch the store refuses while it is reachable is split
//! so one bad record cannot take its neighbours' charges with it; while the store is
//! unreachable the writer keeps everything in memory and retries with backoff until
//! it is written. A batch keeps its id across retries and the store writes each id
//! once, so a retry after a commit whose answer was lost charges nothing twice. Past
//! `max_unwritten` records, `Ledger::reserve` refuses new billable work (503) rather
//! than serve it unbilled. What a crash loses is documented in the
//! README: the records not yet written, and the charges of requests still running.

use crate::billing::Ledger;
use modelgate_core::router::backoff::Backoff;
use modelgate_store::{Charge, SettleBatch, Store, UsageRecord};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
const BATCH: usize = 512;
/// Waits between writes while the store is failing.
const RETRY: Backoff = Backoff {
    base: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

enum Msg {
    Record(Box<UsageRecord>, Option<Charge>),
    Flush(oneshot::Sender<()>),
}

struct Pending {
    record: UsageRecord,
    charge: Option<Charge>,
}

/// How many records are waiting for the store, shared with the ledger's admission.
#[derive(Clone, Default)]
pub struct Backlog {
    unwritten: Arc<AtomicUsize>,
    limit: usize,
}

impl Backlog {
    pub fn new(limit: usize) -> Backlog {
        Backlog {
            unwritten: Arc::default(),
            limit: limit.max(1),
        }
    }

    pub fn unwritten(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed)
    }

    /// True when new billable work must wait for the store to catch up.
    pub fn full(&self) -> bool {
        self.unwritten() >= self.limit
    }

    fn add(&self) -> usize {
        let n = self.unwritten.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("modelgate_usage_unwritten_records").set(n as f64);
        n
    }

    fn written(&self, n: usize) {
        let left = self
            .unwritten
            .fetch_sub(n, Ordering::Relaxed)
            .saturating_sub(n);
        metrics::gauge!("modelgate_usage_unwritten_records").set(left as f64);
    }
}

#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::UnboundedSender<Msg>,
    backlog: Backlog,
}

impl UsageSink {
    pub fn start(store: Arc<dyn Store>, ledger: Arc<Ledger>, backlog: Backlog) -> UsageSink {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store,
            ledger,
            rx,
            backlog: backlog.clone(),
            queue: VecDeque::new(),
            retry: VecDeque::new(),
            batches: 0,
            waiters: Vec::new(),
            closed: false,
        };
        tokio::spawn(writer.run());
        UsageSink { tx, backlog }
    }

    pub async fn record(&self, record: UsageRecord, charge: Option<Charge>) {
        // Past twice the bound (refusals keep coming while billable work is already
        // refused) a record that carries no money is dropped, and counted; a charge
        // never is.
        if charge.is_none() && self.backlog.unwritten() >= self.backlog.limit.saturating_mul(2) {
            metrics::counter!("modelgate_usage_records_dropped_total").increment(1);
            return;
        }
        self.backlog.add();
        if self.tx.send(Msg::Record(Box::new(record), charge)).is_err() {
            tracing::error!("usage writer is gone; a usage record was lost");
        }
    }

    /// Waits until everything recorded so far is written (tests, shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }
}

struct Writer {
    store: Arc<dyn Store>,
    ledger: Arc<Ledger>,
    rx: mpsc::UnboundedReceiver<Msg>,
    backlog: Backlog,
    queue: VecDeque<Pending>,
    /// Batches that failed, with the id they keep until written (in order, first).
    retry: VecDeque<Batch>,
    /// Numbers this instance's batches.
    batches: u64,
    waiters: Vec<oneshot::Sender<()>>,
    closed: bool,
}

/// A batch keeps its id across retries: the store writes each id once, so a retry
/// after a commit whose acknowledgement was lost charges nothing twice.
struct Batch {
    id: String,
    items: Vec<Pending>,
}

impl Writer {
    async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            if self.queue.is_empty() && self.retry.is_empty() {
                for w in self.waiters.drain(..) {
                    let _ = w.send(());
                }
                if self.closed {
                    return;
                }
                match self.rx.recv().await {
                    Some(msg) => self.take(msg),
                    None => self.closed = true,
                }
                continue;
            }
            if failures == 0 {
                self.gather().await;
            }
            if self.write_queue().await {
                failures = 0;
            } else {
                let wait = RETRY.ceiling(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(
                    unwritten = self.queue.len(),
                    retry_in_ms = wait.as_millis() as u64,
                    "the store is unreachable; usage records and charges are kept in memory"
                );
                self.receive_for(wait).await;
            }
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Record(record, charge) => {
                let charge = charge.map(|mut c| {
                    c.request_id.clone_from(&record.request_id);
                    c
                });
                self.queue.push_back(Pending {
                    record: *record,
                    charge,
                });
            }
            Msg::Flush(w) => self.waiters.push(w),
        }
    }

    /// Collects records for up to `FLUSH_EVERY`, a full batch, or a flush request.
    async fn gather(&mut self) {
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        while self.queue.len() < BATCH && self.waiters.is_empty() && !self.closed {
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.take(msg),
                    None => self.closed = true,
                },
                _ = &mut deadline => break,
            }
        }
    }

    /// Keeps receiving (nothing waits on the writer) while it backs off.
    async fn receive_for(&mut self, wait: Duration) {
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        while !self.closed {
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.take(msg),
                    None => self.closed = true,
                },
                _ = &mut deadline => break,
            }
        }
    }

    /// Writes the failed batches, then the queue, batch by batch; false when the
    /// store is unreachable (what is left keeps its order and its batch ids).
    async fn write_queue(&mut self) -> bool {
        loop {
            let batch = match self.retry.pop_front() {
                Some(b) => b,
                None if self.queue.is_empty() => return true,
                None => {
                    let n = self.queue.len().min(BATCH);
                    self.batches += 1;
                    Batch {
                        id: format!("{}:{}", self.ledger.instance_id(), self.batches),
                        items: self.queue.drain(..n).collect(),
                    }
                }
            };
            if self.write(&batch.id, &batch.items).await.is_ok() {
                continue;
            }
            if self.store.ping().await.is_err() {
                self.retry.push_front(batch);
                return false;
            }
            // Reachable: the commit may have gone through with its answer lost (the
            // id tells), else one record is bad: find it, keep the rest.
            if self.write(&batch.id, &batch.items).await.is_ok() {
                continue;
            }
            if let Err(rest) = self.isolate(batch).await {
                self.retry.extend(rest);
                return false;
            }
        }
    }

    async fn write(&self, id: &str, batch: &[Pending]) -> Result<(), ()> {
        let settle = SettleBatch {
            id: id.to_owned(),
            instance_id: self.ledger.instance_id().to_owned(),
            records: batch.iter().map(|p| p.record.clone()).collect(),
            charges: batch.iter().filter_map(|p| p.charge.clone()).collect(),
        };
        match self.store.settle(&settle).await {
            Ok(()) => {
                self.ledger.written(&settle.charges);
                self.backlog.written(batch.len());
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), "writing usage records failed");
                Err(())
            }
        }
    }

    /// Writes each record alone (as a batch of its own id); one the store still
    /// refuses is written with its client-supplied fields scrubbed. Returns what is
    /// not written when the store stops answering, or a record it keeps refusing
    /// (last, so that it blocks nobody's charges; retried later, never dropped).
    async fn isolate(&self, batch: Batch) -> Result<(), Vec<Batch>> {
        let singles: Vec<Batch> = batch
            .items
            .into_iter()
            .enumerate()
            .map(|(i, p)| Batch {
                id: format!("{}.{i}", batch.id),
                items: vec![p],
            })
            .collect();
        let mut rest = singles.into_iter();
        while let Some(mut single) = rest.next() {
            if self.write(&single.id, &single.items).await.is_ok() {
                continue;
            }
            for p in &mut single.items {
                p.record.model = "(invalid)".into();
                p.record.provider = None;
            }
            if self.write(&single.id, &single.items).await.is_ok() {
                tracing::error!(batch = %single.id, "a usage record was refused by the store; written with its model scrubbed");
                continue;
            }
            if self.store.ping().await.is_err() {
                return Err(std::iter::once(single).chain(rest).collect());
            }
            tracing::error!(batch = %single.id, "a usage record is refused by the store; retrying it later");
            let mut left: Vec<Batch> = rest.collect();
            left.push(single);
            return Err(left);
        }
        Ok(())
    }
}
