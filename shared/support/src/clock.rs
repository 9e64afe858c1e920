//! The wall clock, in the two forms the API uses.

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// Seconds since the Unix epoch (token times, TTLs, throttle windows).
pub fn now() -> u64 {
    OffsetDateTime::now_utc()
        .unix_timestamp()
        .try_into()
        .unwrap_or(0)
}

/// RFC 3339 in UTC (`created_at`, `updated_at`).
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Seconds since the Unix epoch, signed (promotion windows).
pub fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch, from one clock read (order sort keys).
pub fn now_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// RFC 3339 in UTC of an epoch-milliseconds instant (event times).
pub fn rfc3339_ms(ms: u64) -> String {
    i128::from(ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Epoch milliseconds of an RFC 3339 instant; `None` if it does not parse.
pub fn parse_ms(rfc3339: &str) -> Option<u64> {
    let at = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_through_rfc3339() {
        for ms in [0, 1_796_400_000_123, now_ms()] {
            assert_eq!(parse_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(parse_ms("2026-12-06T03:15:00Z"), Some(1_796_526_900_000));
        assert_eq!(parse_ms("yesterday"), None);
    }
}
