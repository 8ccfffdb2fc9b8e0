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
        let used = self
            .tat
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now));
        (Self::free_units(per_minute, used), used)
    }

    /// Units admissible when the arrival time is `used` ahead of now.
    fn free_units(per_minute: u64, used: Duration) -> u64 {
        let free = WINDOW.saturating_sub(used);
        let units = free.as_nanos() / Self::interval(per_minute).as_nanos().max(1);
        u64::try_from(units).unwrap_or(u64::MAX).min(per_minute)
    }
}

/// Where one limit stands: OpenAI's `x-ratelimit-{limit,remaining,reset}-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    pub limit: u64,
    pub remaining: u64,
    /// Until the cell is back to a full burst.
    pub reset: Duration,
}

impl Headroom {
    pub fn of(cell: &Gcra, per_minute: u64, now: Instant) -> Option<Headroom> {
        let used = cell
            .tat
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now));
        Headroom::from_used(per_minute, used)
    }

    /// From the time a cell's arrival time is ahead of now (Redis's cells).
    pub fn from_used(per_minute: u64, used: Duration) -> Option<Headroom> {
        (per_minute > 0).then(|| Headroom {
            limit: per_minute,
            remaining: Gcra::free_units(per_minute, used),
            reset: used,
        })
    }

    /// The tighter of two: the one with less left.
    fn tighter(a: Option<Headroom>, b: Option<Headroom>) -> Option<Headroom> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.remaining < a.remaining { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// Requests and tokens headroom of the tighter of key and account (DESIGN §1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeadroom {
    pub requests: Option<Headroom>,
    pub tokens: Option<Headroom>,
}

impl RateHeadroom {
    pub fn merge(self, other: RateHeadroom) -> RateHeadroom {
        RateHeadroom {
            requests: Headroom::tighter(self.requests, other.requests),
            tokens: Headroom::tighter(self.tokens, other.tokens),
        }
    }

    /// Header names and values, OpenAI's (reset as a duration: `20ms`, `1.5s`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        for (h, names) in [
            (
                self.requests,
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ],
            ),
            (
                self.tokens,
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ],
            ),
        ] {
            if let Some(h) = h {
                out.push((names[0], h.limit.to_string()));
                out.push((names[1], h.remaining.to_string()));
                out.push((names[2], format_reset(h.reset)));
            }
        }
        out
    }
}

fn format_reset(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}s")
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
    fn headers_name_the_tighter_limit() {
        let t0 = Instant::now();
        let mut key = Gcra::new();
        let mut account = Gcra::new();
        assert!(key.admit(10, 4, t0).is_ok());
        assert!(account.admit(100, 4, t0).is_ok());
        let key = RateHeadroom {
            requests: Headroom::of(&key, 10, t0),
            tokens: None,
        };
        let account = RateHeadroom {
            requests: Headroom::of(&account, 100, t0),
            tokens: Headroom::of(&Gcra::new(), 1000, t0),
        };
        let h = key.merge(account).headers();
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("x-ratelimit-limit-requests").as_deref(), Some("10"));
        assert_eq!(get("x-ratelimit-remaining-requests").as_deref(), Some("6"));
        assert_eq!(get("x-ratelimit-reset-requests").as_deref(), Some("24s"));
        assert_eq!(get("x-ratelimit-remaining-tokens").as_deref(), Some("1000"));
        assert_eq!(get("x-ratelimit-reset-tokens").as_deref(), Some("0ms"));
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn zero_is_unlimited() {
        let mut g = Gcra::new();
        for _ in 0..1000 {
            assert!(g.admit(0, 1, Instant::now()).is_ok());
        }
    }
}
