//! Prometheus metrics, served at GET /metrics (admin token unless `[server]
//! public_metrics`). Labels are bounded: models that reached an upstream (else "-"),
//! providers, statuses and error types — never messages or client-chosen strings.

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use modelgate_store::UsageRecord;

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Installs the process-wide recorder; `None` when one is installed already.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("seconds".into()), LATENCY_BUCKETS)
        .ok()?
        .install_recorder()
        .ok()
}

/// Called once per authenticated request, with its usage record.
pub fn request_finished(r: &UsageRecord) {
    let model = if r.attempts > 0 {
        r.model.clone()
    } else {
        "-".to_owned()
    };
    let error_type = r.error_type.clone().unwrap_or_default();
    counter!("modelgate_requests_total", "model" => model.clone(), "status" => r.status.to_string(), "error_type" => error_type)
        .increment(1);
    histogram!("modelgate_request_duration_seconds", "model" => model.clone())
        .record(r.latency_ms as f64 / 1000.0);
    if r.prompt_tokens > 0 {
        counter!("modelgate_tokens_total", "model" => model.clone(), "kind" => "prompt")
            .increment(r.prompt_tokens);
    }
    if r.completion_tokens > 0 {
        counter!("modelgate_tokens_total", "model" => model.clone(), "kind" => "completion")
            .increment(r.completion_tokens);
    }
    if r.cost_nano > 0 {
        counter!("modelgate_cost_nano_usd_total", "model" => model)
            .increment(r.cost_nano.unsigned_abs());
    }
}

/// One upstream attempt: `outcome` is "ok" or the contract error type.
pub fn upstream_attempt(provider: &str, outcome: &'static str) {
    counter!("modelgate_upstream_attempts_total", "provider" => provider.to_owned(), "outcome" => outcome).increment(1);
}
