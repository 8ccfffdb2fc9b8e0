//! RFC 3339 formatting and parsing in UTC, the one time format of the API (DESIGN §1).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub fn now_unix_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Formats unix milliseconds as RFC 3339 UTC (`2026-11-25T12:00:00.123Z`).
pub fn rfc3339_from_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses RFC 3339 (any offset) into unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((t.to_offset(UtcOffset::UTC).unix_timestamp_nanos() / 1_000_000) as i64)
}

pub fn today_utc() -> time::Date {
    OffsetDateTime::now_utc().date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = parse_rfc3339_ms("2026-11-25T12:00:00.5+01:00").unwrap();
        assert_eq!(rfc3339_from_ms(ms), "2026-11-25T11:00:00.5Z");
    }
}
