//! The only place that spawns: tasks are tracked so that shutdown waits for billing
//! and in-flight answers (a disconnected client's request still settles).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

impl Tasks {
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        let done = Done(Arc::clone(&self.inner));
        tokio::spawn(async move {
            // Dropped when the task ends, by returning or by panicking.
            let _done = done;
            fut.await;
        });
    }

    /// Waits until every tracked task has finished.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.inner.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Counts a task out however it ends, so that shutdown never waits on a panicked one.
struct Done(Arc<Inner>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_panicking_task_still_counts_out() {
        let tasks = Tasks::default();
        tasks.spawn(async { panic!("boom") });
        tasks.spawn(async {});
        tokio::time::timeout(Duration::from_secs(5), tasks.wait_idle())
            .await
            .expect("idle after both tasks ended");
    }
}
