//! Rate limits (DESIGN §3 `[limits]`): a limit of R per minute admits a burst of R,
//! then refills continuously at R/min (GCRA). `cost` is 1 for requests and the
//! reserved tokens for tpm; a later correction returns what was not used.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Generic cell rate algorithm state: the theoretical arrival time of the next unit.
#[derive(Debug, Clone, Copy)]
pub struct Gcra {
    tat: Option<Instant>,
}

impl Default for Gcra {
    fn default() -> Self {
        Self::new()
    }
}

impl Gcra {
    pub const fn new() -> Self {
        Self { tat: None }
    }

    fn interval(per_minute: u64) -> Duration {
        WINDOW / u32::try_from(per_minute.max(1)).unwrap_or(u32::MAX)
    }

    /// Admits `cost` units under `per_minute`, or says how long until it would be.
    pub fn admit(&mut self, per_minute: u64, cost: u64, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        // A request bigger than the whole burst can never pass: admit it alone once
        // the bucket is full, rather than refusing it forever.
        let cost = cost.min(per_minute);
        let t = Self::interval(per_minute);
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        let new_tat = tat + t * u32::try_from(cost).unwrap_or(u32::MAX);
        let limit = now + WINDOW;
        if new_tat > limit {
            return Err(new_tat - limit);
        }
        self.tat = Some(new_tat);
        Ok(())
    }

    /// Returns `units` admitted earlier but not used (tpm corrected to actual usage).
    pub fn refund(&mut self, per_minute: u64, units: u64) {
        if per_minute == 0 || units == 0 {
            return;
        }
        let back =
            Self::interval(per_minute) * u32::try_from(units.min(per_minute)).unwrap_or(u32::MAX);
        if let Some(tat) = self.tat {
            self.tat = Some(tat.checked_sub(back).unwrap_or(tat));
        }
    }
}

impl Gcra {
    /// Corrects an earlier admission by `delta` units: a negative delta returns units
    /// that were not used, a positive one charges usage beyond what was admitted (the
    /// cell then refuses until that debt has refilled, at most an hour of it).
    pub fn correct(&mut self, per_minute: u64, delta: i64, now: Instant) {
        if per_minute == 0 || delta == 0 {
            return;
        }
        if delta < 0 {
            self.refund(per_minute, delta.unsigned_abs());
            return;
        }
        let units = delta.unsigned_abs().min(per_minute.saturating_mul(60));
        let Some(debt) =
            Self::interval(per_minute).checked_mul(u32::try_from(units).unwrap_or(u32::MAX))
        else {
            return;
        };
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        self.tat = tat.checked_add(debt).or(Some(tat));
    }

    /// Units admissible now, and how long until the cell is back to a full burst.
    pub fn headroom(&self, per_minute: u64, now: Instant) -> (u64, Duration) {
        let Some(tat) = self.tat.filter(|tat| *tat > now) else {
            return (per_minute, Duration::ZERO);
        };
        let used = tat - now;
        let free = WINDOW.saturating_sub(used);
        let interval = Self::interval(per_minute);
        let units = (free.as_nanos() / interval.as_nanos().max(1)) as u64;
        (units.min(per_minute), used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut g = Gcra::new();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(g.admit(3, 1, t0).is_ok());
        }
        let wait = g.admit(3, 1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(g.admit(3, 1, t0 + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn weighted_costs_and_refunds() {
        let mut g = Gcra::new();
        let t0 = Instant::now();
        assert!(g.admit(1000, 900, t0).is_ok());
        assert!(g.admit(1000, 200, t0).is_err());
        g.refund(1000, 500);
        assert!(g.admit(1000, 200, t0).is_ok());
    }

    #[test]
    fn usage_beyond_the_admission_is_owed() {
        // 120 tokens used against a 100 tpm cell admitted at 100: the next request
        // waits until the 20 extra have refilled too.
        let mut g = Gcra::new();
        let t0 = Instant::now();
        assert!(g.admit(100, 120, t0).is_ok());
        g.correct(100, 20, t0);
        assert!(g.admit(100, 1, t0).is_err());
        assert!(g.admit(100, 1, t0 + Duration::from_secs(12)).is_err());
        assert!(g.admit(100, 1, t0 + Duration::from_millis(12_700)).is_ok());
        let (left, reset) = g.headroom(100, t0 + Duration::from_millis(12_700));
        assert_eq!(left, 0);
        assert!(reset > Duration::from_secs(59));
    }

    #[test]
    fn zero_is_unlimited() {
        let mut g = Gcra::new();
        for _ in 0..1000 {
            assert!(g.admit(0, 1, Instant::now()).is_ok());
        }
    }
}
