//! Money is an integer count of nano-USD (1 unit = 1e-9 USD) everywhere (DESIGN §4);
//! decimal USD exists only at the API edge (`to_usd_string`, `from_usd`).

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NanoUsd(pub i64);

pub const NANOS_PER_USD: i64 = 1_000_000_000;

impl NanoUsd {
    pub const ZERO: NanoUsd = NanoUsd(0);

    /// Converts a decimal USD amount from config or the admin API, rounding to the
    /// nearest nano-USD; `None` for NaN, infinities and amounts beyond ±9e9 USD.
    pub fn from_usd(usd: f64) -> Option<NanoUsd> {
        if !usd.is_finite() || usd.abs() > 9.0e9 {
            return None;
        }
        Some(NanoUsd((usd * NANOS_PER_USD as f64).round() as i64))
    }

    pub fn checked_add(self, other: NanoUsd) -> Option<NanoUsd> {
        self.0.checked_add(other.0).map(NanoUsd)
    }

    pub fn checked_sub(self, other: NanoUsd) -> Option<NanoUsd> {
        self.0.checked_sub(other.0).map(NanoUsd)
    }

    pub fn saturating_add(self, other: NanoUsd) -> NanoUsd {
        NanoUsd(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: NanoUsd) -> NanoUsd {
        NanoUsd(self.0.saturating_sub(other.0))
    }

    /// Exact decimal text, trailing zeros trimmed: `1.5`, `0.000000001`, `-2`.
    pub fn to_usd_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / NANOS_PER_USD as u64;
        let frac = abs % NANOS_PER_USD as u64;
        if frac == 0 {
            return format!("{sign}{whole}");
        }
        let frac = format!("{frac:09}");
        format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
    }

    /// For JSON answers: a number (what clients expect of `balance_usd`).
    pub fn to_json(self) -> serde_json::Value {
        self.to_usd_string()
            .parse::<f64>()
            .map(serde_json::Value::from)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// A price in nano-USD per million units (tokens), so that config prices like
/// 2.50 USD/Mtok stay exact integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerMillion(pub i64);

impl PerMillion {
    pub fn from_usd(usd: f64) -> Option<PerMillion> {
        NanoUsd::from_usd(usd).map(|n| PerMillion(n.0))
    }

    /// Cost of `units`, rounded up so that billing never undercharges by rounding.
    pub fn cost(self, units: u64) -> NanoUsd {
        let total = i128::from(self.0) * i128::from(units);
        let cost = (total + 999_999).div_euclid(1_000_000);
        NanoUsd(i64::try_from(cost).unwrap_or(i64::MAX))
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_exact() {
        assert_eq!(NanoUsd(1_500_000_000).to_usd_string(), "1.5");
        assert_eq!(NanoUsd(1).to_usd_string(), "0.000000001");
        assert_eq!(NanoUsd(-2_000_000_000).to_usd_string(), "-2");
        assert_eq!(NanoUsd::from_usd(0.1).unwrap(), NanoUsd(100_000_000));
    }

    #[test]
    fn token_cost_rounds_up() {
        let price = PerMillion::from_usd(2.5).unwrap();
        assert_eq!(price.cost(1_000_000), NanoUsd(2_500_000_000));
        assert_eq!(price.cost(1), NanoUsd(2_500));
        assert_eq!(PerMillion(1).cost(1), NanoUsd(1));
    }
}
