//! Money is an integer count of nano-USD (1 unit = 1e-9 USD) everywhere (DESIGN §4);
//! decimal USD exists only at the API edge (`to_usd_string`, `from_usd`, `to_json`),
//! always as plain decimals: `to_json_vec` writes JSON whose numbers never take the
//! exponent form (`9e-6`) serde_json's own writer uses for small floats.

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

    /// For JSON answers: a number (what clients expect of `balance_usd`). The f64 is
    /// the one nearest the exact decimal, so `to_json_vec` prints that decimal back
    /// for every amount under 1 million USD (15 significant digits); larger ones keep
    /// the 16-17 digits a client's own f64 parse would keep anyway.
    pub fn to_json(self) -> serde_json::Value {
        self.to_usd_string()
            .parse::<f64>()
            .map(serde_json::Value::from)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// A serde_json formatter (compact or pretty) whose floats are plain decimals.
struct PlainFloats<F>(F);

/// Delegates one formatter method to the wrapped formatter.
macro_rules! delegate {
    ($($name:ident$(($arg:ident: $ty:ty))?),* $(,)?) => {$(
        fn $name<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W
            $(, $arg: $ty)?
        ) -> std::io::Result<()> {
            self.0.$name(writer $(, $arg)?)
        }
    )*};
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for PlainFloats<F> {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        // Rust's `Display` for f64 is the shortest text that reads back to the same
        // f64, and never uses an exponent. serde_json writes non-finite as null
        // before reaching here; integral values stay visibly floats, as it writes them.
        write!(writer, "{value}")?;
        if value.fract() == 0.0 {
            writer.write_all(b".0")?;
        }
        Ok(())
    }

    fn write_f32<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f32,
    ) -> std::io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    delegate!(
        begin_array,
        end_array,
        begin_array_value(first: bool),
        end_array_value,
        begin_object,
        end_object,
        begin_object_key(first: bool),
        end_object_key,
        begin_object_value,
        end_object_value,
    );
}

/// JSON bytes like `serde_json::to_vec`, with every float in plain decimal notation
/// (`0.000009`, never `9e-6`), for answers that carry USD amounts.
pub fn to_json_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    write_with(value, serde_json::ser::CompactFormatter)
}

/// `to_json_vec`, indented like `serde_json::to_vec_pretty` (for the CLI).
pub fn to_json_vec_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    write_with(value, serde_json::ser::PrettyFormatter::new())
}

fn write_with<T, F>(value: &T, formatter: F) -> serde_json::Result<Vec<u8>>
where
    T: Serialize + ?Sized,
    F: serde_json::ser::Formatter,
{
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PlainFloats(formatter));
    value.serialize(&mut ser)?;
    Ok(out)
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
    fn json_amounts_are_plain_decimals() {
        let text = |n: i64| String::from_utf8(to_json_vec(&NanoUsd(n).to_json()).unwrap()).unwrap();
        assert_eq!(text(1), "0.000000001");
        assert_eq!(text(9_000), "0.000009");
        assert_eq!(text(216_000), "0.000216");
        assert_eq!(text(-1), "-0.000000001");
        assert_eq!(text(1_500_000_000), "1.5");
        assert_eq!(text(2_000_000_000), "2.0");
        assert_eq!(text(0), "0.0");
        // Large balances: exact to the nano-USD below 1 million USD, plain beyond.
        assert_eq!(text(999_999_999_999_999), "999999.999999999");
        assert_eq!(text(9_007_199_254_740_991), "9007199.25474099");
        assert_eq!(text(9_000_000_000 * NANOS_PER_USD), "9000000000.0");
        assert_eq!(text(i64::MAX), "9223372036.854776");
        assert_eq!(text(-9_000_000_000 * NANOS_PER_USD), "-9000000000.0");
        for n in [
            1,
            7,
            12_345,
            999_999_999,
            123_456_789_012_345,
            999_999_999_999_999,
        ] {
            let t = text(n);
            assert!(!t.contains('e'), "{t}");
            let back = NanoUsd::from_usd(t.parse().unwrap()).unwrap();
            assert_eq!(back, NanoUsd(n), "{t}");
        }
    }

    #[test]
    fn plain_writer_keeps_other_json_as_serde_json_writes_it() {
        let v = serde_json::json!({"a": [1, -2, 0.5, 1e-7, 1e300, null, "e-9"], "b": {"c": true}});
        let plain = String::from_utf8(to_json_vec(&v).unwrap()).unwrap();
        assert!(!plain.contains("e-7") && !plain.contains("e300"), "{plain}");
        let back: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(back, v);
        assert_eq!(
            plain,
            serde_json::to_string(&v)
                .unwrap()
                .replace("1e-7", "0.0000001")
                .replace("1e+300", &format!("1{}.0", "0".repeat(300)))
        );
        let pretty = serde_json::json!({"a": [1, {"b": 0.000009}], "c": {}, "d": []});
        let text = String::from_utf8(to_json_vec_pretty(&pretty).unwrap()).unwrap();
        let expected = serde_json::to_string_pretty(&pretty)
            .unwrap()
            .replace("9e-6", "0.000009");
        assert_eq!(text, expected);
    }

    #[test]
    fn token_cost_rounds_up() {
        let price = PerMillion::from_usd(2.5).unwrap();
        assert_eq!(price.cost(1_000_000), NanoUsd(2_500_000_000));
        assert_eq!(price.cost(1), NanoUsd(2_500));
        assert_eq!(PerMillion(1).cost(1), NanoUsd(1));
    }
}
