//! Picks the deployment for the next attempt: among configured routes not yet tried
//! and not circuit-open, the best priority (lowest number) wins, weighted-random
//! within it; a retry prefers a deployment it has not tried (DESIGN §5).

use super::health::{CircuitState, HealthTracker};
use crate::catalog::Route;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum Selection<'a> {
    Route(&'a Route),
    /// The deployment cooled down and this attempt is its one half-open probe: the
    /// caller reports the outcome and holds a `ProbeGuard` until then.
    Probe(&'a Route),
    /// Every configured route is circuit-open; the soonest one reopens after this.
    AllOpen {
        retry_in: Duration,
    },
    /// No route has a configured provider.
    Unconfigured,
}

pub fn select<'a>(
    routes: &'a [Route],
    tried: &[usize],
    health: &HealthTracker,
    now: Instant,
) -> Selection<'a> {
    let configured: Vec<&Route> = routes.iter().filter(|r| r.provider.configured).collect();
    if configured.is_empty() {
        return Selection::Unconfigured;
    }
    // Untried deployments first; when all were tried, any may be retried.
    let untried: Vec<&Route> = configured
        .iter()
        .copied()
        .filter(|r| !tried.contains(&r.deployment))
        .collect();
    let pool = if untried.is_empty() {
        configured
    } else {
        untried
    };
    let mut soonest: Option<Duration> = None;
    let mut candidates: Vec<&Route> = Vec::with_capacity(pool.len());
    for route in pool {
        if let Some(wait) = health.is_open(route.deployment, now) {
            soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
        } else {
            candidates.push(route);
        }
    }
    let Some(best) = candidates.iter().map(|r| r.priority).min() else {
        return Selection::AllOpen {
            retry_in: soonest.unwrap_or(Duration::from_secs(1)),
        };
    };
    candidates.retain(|r| r.priority == best);
    let total: u64 = candidates.iter().map(|r| u64::from(r.weight)).sum();
    let mut pick = fastrand::u64(0..total.max(1));
    for route in &candidates {
        let w = u64::from(route.weight);
        if pick < w {
            return claim(route, health, now);
        }
        pick -= w;
    }
    match candidates.first() {
        Some(route) => claim(route, health, now),
        None => Selection::Unconfigured,
    }
}

fn claim<'a>(route: &'a Route, health: &HealthTracker, now: Instant) -> Selection<'a> {
    match health.acquire(route.deployment, now) {
        CircuitState::Closed => Selection::Route(route),
        CircuitState::Probe => Selection::Probe(route),
        CircuitState::Open { retry_in } => Selection::AllOpen { retry_in },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ProviderSpec;
    use crate::config::ProviderKind;
    use std::sync::Arc;

    fn route(deployment: usize) -> Route {
        Route {
            deployment,
            provider: Arc::new(ProviderSpec {
                id: "p".into(),
                kind: ProviderKind::Mock,
                base_url: String::new(),
                api_key_env: None,
                api_key: None,
                configured: true,
                connect_timeout: Duration::from_secs(1),
                first_byte_timeout: Duration::from_secs(1),
                total_timeout: Duration::from_secs(1),
            }),
            upstream_model: "m".into(),
            weight: 1,
            priority: 0,
        }
    }

    #[test]
    fn a_cooled_down_deployment_is_selected_as_the_one_probe() {
        let routes = [route(0)];
        let health = HealthTracker::new(1, 1, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(matches!(
            select(&routes, &[], &health, t0),
            Selection::Route(_)
        ));
        assert!(health.record_failure(0, t0));
        assert!(matches!(
            select(&routes, &[], &health, t0),
            Selection::AllOpen { .. }
        ));
        let later = t0 + Duration::from_secs(11);
        assert!(matches!(
            select(&routes, &[], &health, later),
            Selection::Probe(_)
        ));
        assert!(matches!(
            select(&routes, &[], &health, later),
            Selection::AllOpen { .. }
        ));
    }
}
