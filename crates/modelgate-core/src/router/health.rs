//! A circuit breaker per deployment (DESIGN §5): it opens after `consecutive_failures`
//! retriable failures in a row, stays open for `cooldown`, then lets one half-open
//! probe through; the probe's success closes it, its retriable failure reopens it,
//! any other error closes it too (§2: a client's bad request never keeps a
//! deployment out), and a probe that never reports (its future dropped) is released
//! by its [`ProbeGuard`] so that the next request probes instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open {
        retry_in: Duration,
    },
    /// Cooled down; this caller is the one probe allowed through.
    Probe,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

#[derive(Debug)]
pub struct HealthTracker {
    slots: Vec<Mutex<Slot>>,
    threshold: u32,
    cooldown: Duration,
}

impl HealthTracker {
    pub fn new(deployments: usize, threshold: u32, cooldown: Duration) -> Self {
        Self {
            slots: (0..deployments)
                .map(|_| Mutex::new(Slot::default()))
                .collect(),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn with<R>(&self, deployment: usize, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
        let slot = self.slots.get(deployment)?;
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        Some(f(&mut guard))
    }

    /// Whether the deployment may take a request now; claims the probe when due.
    pub fn acquire(&self, deployment: usize, now: Instant) -> CircuitState {
        self.with(deployment, |s| match s.open_until {
            None => CircuitState::Closed,
            Some(until) if now < until => CircuitState::Open {
                retry_in: until - now,
            },
            Some(_) if s.probing => CircuitState::Open {
                retry_in: Duration::from_secs(1),
            },
            Some(_) => {
                s.probing = true;
                CircuitState::Probe
            }
        })
        .unwrap_or(CircuitState::Closed)
    }

    /// Whether the deployment is in rotation, without claiming anything.
    pub fn is_open(&self, deployment: usize, now: Instant) -> Option<Duration> {
        self.with(deployment, |s| match s.open_until {
            Some(until) if now < until => Some(until - now),
            Some(_) if s.probing => Some(Duration::from_secs(1)),
            _ => None,
        })
        .flatten()
    }

    pub fn record_success(&self, deployment: usize) {
        self.with(deployment, |s| *s = Slot::default());
    }

    /// Records an attempt that ended in a non-retriable error (the client's bad
    /// request, the gateway's rejected key): the upstream answered, so a half-open
    /// probe closes the circuit (§2) and a run of retriable failures is broken. An
    /// open circuit (opened meanwhile, e.g. through shared health) stays open.
    pub fn record_answered(&self, deployment: usize) {
        self.with(deployment, |s| {
            if s.probing {
                *s = Slot::default();
            } else if s.open_until.is_none() {
                s.failures = 0;
            }
        });
    }

    /// Gives up a claimed probe that will never report: the circuit stays as it was
    /// (cooled down), so the next request becomes the probe.
    fn release_probe(&self, deployment: usize) {
        self.with(deployment, |s| s.probing = false);
    }

    /// Arms a guard for a claimed probe (`CircuitState::Probe`) that releases it if
    /// dropped before [`ProbeGuard::reported`]: a client that disconnects during the
    /// probe must not leave the deployment out until restart.
    pub fn probe_guard(&self, deployment: usize) -> ProbeGuard<'_> {
        ProbeGuard {
            health: self,
            deployment,
            armed: true,
        }
    }

    /// Records a retriable failure; returns true when this failure opened the circuit.
    pub fn record_failure(&self, deployment: usize, now: Instant) -> bool {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        self.with(deployment, |s| {
            s.failures = s.failures.saturating_add(1);
            let reopen = s.probing || (s.open_until.is_none() && s.failures >= threshold);
            if reopen {
                s.open_until = Some(now + cooldown);
                s.probing = false;
            }
            reopen
        })
        .unwrap_or(false)
    }

    /// Takes a deployment out of rotation for `cooldown` at once (e.g. exhausted quota).
    pub fn cool_down(&self, deployment: usize, now: Instant) {
        let cooldown = self.cooldown;
        self.with(deployment, |s| {
            s.open_until = Some(now + cooldown);
            s.probing = false;
        });
    }

    /// Takes a deployment out of rotation for `for_` because another instance found
    /// it failing (shared health); keeps a later local deadline.
    pub fn open_for(&self, deployment: usize, now: Instant, for_: Duration) {
        self.with(deployment, |s| {
            let until = now + for_;
            if s.open_until.is_none_or(|u| u < until) {
                s.open_until = Some(until);
                s.probing = false;
            }
        });
    }
}

/// Owned by the attempt that claimed a half-open probe; see
/// [`HealthTracker::probe_guard`].
#[derive(Debug)]
#[must_use = "dropping the guard at once releases the probe"]
pub struct ProbeGuard<'a> {
    health: &'a HealthTracker,
    deployment: usize,
    armed: bool,
}

impl ProbeGuard<'_> {
    /// The probe's outcome was recorded (`record_*`, `cool_down`): nothing to release.
    pub fn reported(mut self) {
        self.armed = false;
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.health.release_probe(self.deployment);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let h = HealthTracker::new(1, 2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!h.record_failure(0, t0));
        assert!(h.record_failure(0, t0));
        assert!(matches!(h.acquire(0, t0), CircuitState::Open { .. }));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
        assert!(matches!(h.acquire(0, later), CircuitState::Open { .. }));
        h.record_success(0);
        assert_eq!(h.acquire(0, later), CircuitState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let h = HealthTracker::new(1, 1, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(h.record_failure(0, t0));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
        assert!(h.record_failure(0, later));
        assert!(matches!(h.acquire(0, later), CircuitState::Open { .. }));
    }

    #[test]
    fn a_probe_answered_with_a_non_retriable_error_closes_the_circuit() {
        let h = HealthTracker::new(1, 1, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(h.record_failure(0, t0));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
        // The client's own 400 during the probe: the upstream answered.
        h.record_answered(0);
        assert_eq!(h.acquire(0, later), CircuitState::Closed);
        assert_eq!(h.is_open(0, later), None);
    }

    #[test]
    fn a_non_retriable_error_breaks_a_run_of_failures_but_keeps_an_open_circuit() {
        let h = HealthTracker::new(1, 2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!h.record_failure(0, t0));
        h.record_answered(0);
        assert!(!h.record_failure(0, t0), "the run restarted");
        assert!(h.record_failure(0, t0));
        h.record_answered(0);
        assert!(h.is_open(0, t0).is_some(), "not a probe: stays open");
    }

    #[test]
    fn a_dropped_probe_is_released_for_the_next_request() {
        let h = HealthTracker::new(1, 1, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(h.record_failure(0, t0));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
        let guard = h.probe_guard(0);
        assert!(matches!(h.acquire(0, later), CircuitState::Open { .. }));
        // The client disconnected: the probe's future (and its guard) is dropped.
        drop(guard);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
    }

    #[test]
    fn a_reported_probe_guard_releases_nothing() {
        let h = HealthTracker::new(1, 1, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(h.record_failure(0, t0));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.acquire(0, later), CircuitState::Probe);
        h.probe_guard(0).reported();
        // Disarmed: whoever holds the probe now still holds it.
        assert!(matches!(h.acquire(0, later), CircuitState::Open { .. }));
    }
}
