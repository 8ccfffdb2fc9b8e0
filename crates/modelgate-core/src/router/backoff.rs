//! Exponential backoff with full jitter, capped (DESIGN §3 `[retry]`). The only place
//! that decides how long to wait between attempts.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before retry number `retry` (0 for the first retry): uniform in
    /// [0, min(max, base * 2^retry)].
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self.ceiling(retry);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { fastrand::u64(0..=ms) })
    }

    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// An upstream's Retry-After is honoured when it fits within `max` (DESIGN §3);
    /// a longer one is not waited for.
    pub fn honours(&self, retry_after: Duration) -> bool {
        retry_after <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_capped_ceiling() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(10), Duration::from_millis(1000));
        for retry in 0..12 {
            assert!(b.delay(retry) <= b.ceiling(retry));
        }
    }
}
