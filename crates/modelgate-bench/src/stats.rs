//! Percentiles and the JSON line `mg-bench load` prints.

use crate::load::Samples;
use crate::{LoadArgs, Mode};
use serde_json::{json, Value};
use std::time::Duration;

/// Nearest-rank percentile of sorted samples, in ms.
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).map_or(0.0, ms)
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn distribution(mut samples: Vec<Duration>) -> Value {
    samples.sort_unstable();
    let mean = if samples.is_empty() {
        0.0
    } else {
        samples.iter().map(ms).sum::<f64>() / samples.len() as f64
    };
    json!({
        "count": samples.len(),
        "mean": mean,
        "p50": percentile_ms(&samples, 0.50),
        "p90": percentile_ms(&samples, 0.90),
        "p99": percentile_ms(&samples, 0.99),
        "max": percentile_ms(&samples, 1.0),
    })
}

pub fn to_json(args: &LoadArgs, samples: &Samples) -> Value {
    let ok = samples.latencies.len();
    let elapsed = samples.elapsed.as_secs_f64();
    let mut out = json!({
        "mode": match args.mode {
            Mode::Rate => "rate",
            Mode::Closed => "closed",
            Mode::Stream => "stream",
        },
        "url": args.url,
        "model": args.model,
        "duration_s": args.duration,
        "requests": ok,
        "errors": samples.errors,
        "first_error": samples.first_error,
        "elapsed_s": elapsed,
        "rps": if elapsed > 0.0 { ok as f64 / elapsed } else { 0.0 },
        "latency_ms": distribution(samples.latencies.clone()),
    });
    if args.mode == Mode::Closed {
        out["concurrency"] = json!(args.concurrency);
    } else {
        out["target_rate"] = json!(args.rate);
        out["schedule_lag_ms"] = distribution(samples.lags.clone());
    }
    if args.mode == Mode::Stream {
        out["ttfb_ms"] = distribution(samples.ttfbs.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let d = distribution(v);
        assert_eq!(d["p50"], 50.0);
        assert_eq!(d["p99"], 99.0);
        assert_eq!(d["max"], 100.0);
        assert_eq!(distribution(Vec::new())["p50"], 0.0);
    }
}
