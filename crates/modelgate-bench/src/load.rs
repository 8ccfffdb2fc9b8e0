//! The two load shapes. Open loop: requests leave on a fixed schedule whatever the
//! answers do. Latency counts from the actual send, because tokio's timer wakes up to
//! 1 ms late and that lag would swamp the figures; the lag is recorded on its own so
//! a generator falling behind (coordinated omission) shows. Closed loop: each
//! connection sends its next request when the last one answered.

use crate::client::{Outcome, Target};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

#[derive(Default)]
pub struct Samples {
    pub latencies: Vec<Duration>,
    pub ttfbs: Vec<Duration>,
    /// Open loop: how late each request left against its schedule.
    pub lags: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
}

impl Samples {
    fn add(&mut self, result: Result<Outcome, String>) {
        match result {
            Ok(o) => {
                self.latencies.push(o.total);
                self.ttfbs.extend(o.ttfb);
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.ttfbs.extend(other.ttfbs);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

pub struct Pace {
    pub rate: f64,
    pub duration: Duration,
    pub max_in_flight: usize,
    pub stream: bool,
}

pub async fn open_loop(target: Arc<Target>, pace: Pace) -> Samples {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let in_flight = Arc::new(Semaphore::new(pace.max_in_flight));
    let start = Instant::now();
    let mut sent: u32 = 0;
    loop {
        let scheduled = start + Duration::from_secs_f64(f64::from(sent) / pace.rate);
        if scheduled.duration_since(start) >= pace.duration {
            break;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let (target, tx) = (target.clone(), tx.clone());
        tokio::spawn(async move {
            let lag = scheduled.elapsed();
            let result = target.send(pace.stream).await;
            drop(permit);
            let _ = tx.send((lag, result));
        });
        sent += 1;
    }
    drop(tx);
    let mut samples = Samples::default();
    // Ends: every request finishes or times out (client::REQUEST_TIMEOUT).
    while let Some((lag, result)) = rx.recv().await {
        samples.lags.push(lag);
        samples.add(result);
    }
    samples.elapsed = start.elapsed();
    samples
}

pub async fn closed_loop(target: Arc<Target>, connections: usize, duration: Duration) -> Samples {
    let start = Instant::now();
    let end = start + duration;
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        let target = target.clone();
        workers.spawn(async move {
            let mut samples = Samples::default();
            while Instant::now() < end {
                samples.add(target.send(false).await);
            }
            samples
        });
    }
    let mut samples = Samples::default();
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(s) => samples.merge(s),
            Err(e) => samples.add(Err(format!("worker failed: {e}"))),
        }
    }
    samples.elapsed = start.elapsed();
    samples
}
