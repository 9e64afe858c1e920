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
