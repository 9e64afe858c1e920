//! The one random source and the one way to make an id type.
//!
//! Every id the engine mints is a prefix and 32 lowercase hex digits: 128
//! random bits, or (for ids that must sort by time) 48 bits of epoch
//! milliseconds then 80 random bits, the layout of a UUIDv7. [`id_type!`]
//! declares such a type; parsing one is the validation (parse, don't
//! validate).

use crate::encoding::{hex, is_lower_hex};

/// `N` bytes from the OS random source.
///
/// The OS source failing is not recoverable and never input-driven, so this
/// panics rather than mint a guessable token, id or salt.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    try_random_bytes().unwrap_or_else(|err| panic!("OS random source failed: {err}"))
}

/// `N` bytes from the OS random source, for callers with a harmless
/// fallback (a retry's jitter, the stock shard tried first).
pub fn try_random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// A uniformly random `u32`, or `None` if the OS source failed.
pub fn try_random_u32() -> Option<u32> {
    try_random_bytes().ok().map(u32::from_le_bytes)
}

/// `<prefix>` and 32 lowercase hex digits (128 random bits).
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", hex(&random_bytes::<16>()))
}

/// `<prefix>` and 32 lowercase hex digits: 48 bits of epoch milliseconds,
/// then 80 random bits, so ids sort by creation time to the millisecond.
pub fn time_ordered_id(prefix: &str) -> String {
    time_ordered_id_at(prefix, crate::clock::now_ms())
}

/// [`time_ordered_id`] at a given instant.
pub fn time_ordered_id_at(prefix: &str, ms: u64) -> String {
    let ms = ms & 0xffff_ffff_ffff;
    format!("{prefix}{ms:012x}{}", hex(&random_bytes::<10>()))
}

/// True if `text` is `prefix` and 32 lowercase hex digits.
pub fn is_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|digits| is_lower_hex(digits, 32))
}

/// Declares an id type: a prefix and 32 lowercase hex digits, minted by
/// `random_id` or `time_ordered_id` (this module), (de)serialised as a
/// string through its parser, whose refusal is `$refusal`.
///
/// ```
/// quiet_support::id_type!(
///     /// A widget: `wdg_` and 32 hex digits.
///     WidgetId, "wdg_", random_id, "not a widget id"
/// );
/// let id = WidgetId::generate();
/// assert_eq!(WidgetId::try_from(id.to_string()), Ok(id));
/// assert_eq!(WidgetId::try_from("wdg_x".to_string()), Err("not a widget id".to_string()));
/// ```
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $mint:ident, $refusal:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this type starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn generate() -> Self {
                Self($crate::id::$mint($prefix))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                if $crate::id::is_id(&value, $prefix) {
                    Ok(Self(value))
                } else {
                    Err(String::from($refusal))
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    id_type!(
        /// A test id.
        TestId,
        "tst_",
        random_id,
        "not a test id"
    );
    id_type!(
        /// A time-ordered test id.
        TimedId,
        "tmd_",
        time_ordered_id,
        "not a timed id"
    );

    #[test]
    fn ids_round_trip_and_refuse_lookalikes() {
        let id = TestId::generate();
        assert!(is_id(id.as_str(), "tst_"));
        assert_eq!(TestId::try_from(id.to_string()), Ok(id.clone()));
        assert_ne!(TestId::generate(), id, "128 random bits do not repeat");
        for bad in [
            "tst_",
            "tst_0123456789abcdef0123456789abcde",
            "tst_0123456789ABCDEF0123456789abcdef",
            "tmd_0123456789abcdef0123456789abcdef",
            "tst_0123456789abcdef0123456789abcdef0",
        ] {
            assert_eq!(
                TestId::try_from(bad.to_string()),
                Err("not a test id".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn time_ordered_ids_sort_by_millisecond() {
        let early = time_ordered_id_at("tmd_", 1_700_000_000_000);
        let late = time_ordered_id_at("tmd_", 1_700_000_000_001);
        assert!(early < late);
        assert!(is_id(&early, "tmd_"));
        assert!(TimedId::try_from(TimedId::generate().to_string()).is_ok());
    }
}
