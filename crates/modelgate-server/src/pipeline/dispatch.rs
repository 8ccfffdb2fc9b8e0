//! Attempts with retries and failover (DESIGN §5): only retriable failures are retried,
//! at most `max_retries` times, with backoff (or the upstream's Retry-After when it
//! fits), each retry preferring another healthy deployment. Health is updated here:
//! every attempt reports its outcome, a half-open probe included, except a `mock`
//! deployment's failures: the mock fails only when a client asks it to.

use crate::state::AppState;
use modelgate_core::catalog::{Model, Route};
use modelgate_core::config::ProviderKind;
use modelgate_core::router::backoff::Backoff;
use modelgate_core::router::select::{select, Selection};
use modelgate_core::GatewayError;
use modelgate_providers::UpstreamError;
use std::future::Future;
use std::time::{Duration, Instant};

pub struct Dispatched<T> {
    pub value: T,
    pub route: Route,
}

/// Progress kept by the caller, so that a failure still reports attempts and provider.
#[derive(Default)]
pub struct Attempts {
    pub count: u32,
    pub provider: Option<String>,
    pub upstream_time: Duration,
}

pub async fn with_retries<T, F, Fut>(
    state: &AppState,
    model: &Model,
    progress: &mut Attempts,
    mut attempt: F,
) -> Result<Dispatched<T>, GatewayError>
where
    F: FnMut(Route) -> Fut,
    Fut: Future<Output = Result<T, UpstreamError>>,
{
    let retry = &state.config.retry;
    let backoff = Backoff {
        base: Duration::from_millis(retry.base_delay_ms),
        max: Duration::from_millis(retry.max_delay_ms),
    };
    let mut tried: Vec<usize> = Vec::new();
    let mut last_error: Option<GatewayError> = None;
    loop {
        let (route, probe) = match select(&model.routes, &tried, &state.health, Instant::now()) {
            Selection::Route(r) => (r.clone(), false),
            Selection::Probe(r) => (r.clone(), true),
            Selection::AllOpen { retry_in } => {
                // The request whose failure opened the circuit keeps its own error.
                return Err(
                    last_error.unwrap_or_else(|| GatewayError::ProviderUnavailable {
                        model: model.id.clone(),
                        reason: "every deployment is failing and cooling down.".into(),
                        retry_after: Some(retry_in),
                    }),
                );
            }
            Selection::Unconfigured => {
                return Err(last_error.unwrap_or_else(|| model.not_configured()));
            }
        };
        progress.count += 1;
        progress.provider = Some(route.provider.id.clone());
        let deployment = route.deployment;
        // A probe whose attempt is dropped (client disconnect) must not keep the
        // circuit half-open forever: the guard releases it unless reported.
        let probe = probe.then(|| state.health.probe_guard(deployment));
        let started = Instant::now();
        let result = attempt(route.clone()).await;
        progress.upstream_time += started.elapsed();
        let failure = match result {
            Ok(value) => {
                crate::metrics::upstream_attempt(&route.provider.id, "ok");
                state.health.record_success(deployment);
                if let Some(guard) = probe {
                    guard.reported();
                }
                return Ok(Dispatched { value, route });
            }
            Err(e) => e,
        };
        tracing::info!(provider = %route.provider.id, deployment, attempt = progress.count, error_type = failure.error.error_type(), "upstream attempt failed");
        crate::metrics::upstream_attempt(&route.provider.id, failure.error.error_type());
        // The mock fails only on `x-mock-fault` (or a bad one): a fault a client
        // injects for itself must not take the deployment out for anyone, the client
        // included (issue 11). It is still retried, so clients can test their retry
        // logic; the unreported probe guard releases a probe.
        if route.provider.kind != ProviderKind::Mock {
            record_failure(state, deployment, &failure);
            if let Some(guard) = probe {
                guard.reported();
            }
        }
        if !tried.contains(&deployment) {
            tried.push(deployment);
        }
        let retries_done = progress.count - 1;
        if !failure.retriable || retries_done >= retry.max_retries {
            return Err(failure.error);
        }
        let others_untried = model
            .routes
            .iter()
            .any(|r| r.provider.configured && !tried.contains(&r.deployment));
        let mut delay = backoff.delay(retries_done);
        if let Some(after) = failure.retry_after {
            if backoff.honours(after) {
                delay = delay.max(after);
            } else if !others_untried {
                // Too long to wait here: the client gets it with the Retry-After.
                return Err(failure.error);
            } else {
                delay = Duration::ZERO;
            }
        }
        if others_untried && failure.retry_after.is_none() {
            // Failing over to a different deployment needs no backoff.
            delay = Duration::ZERO;
        }
        last_error = Some(failure.error);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

fn record_failure(state: &AppState, deployment: usize, failure: &UpstreamError) {
    if failure.cool_down {
        state.health.cool_down(deployment, Instant::now());
    } else if failure.retriable {
        state.health.record_failure(deployment, Instant::now());
    } else {
        // §2: any non-retriable end (a client's bad request) closes a probing
        // circuit; only retriable failures count against a deployment.
        state.health.record_answered(deployment);
    }
}
