//! Opaque, tamper-evident page cursors.
//!
//! A cursor names the last SKU of a page and the listing it belongs to (the
//! category, or all products), signed with HMAC-SHA256 under a server key.
//! Clients cannot forge a position, move a cursor to another listing, or
//! learn anything about our key schema from it.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Truncated tag length: 128 bits is ample against forgery and keeps URLs short.
const TAG_LEN: usize = 16;
const VERSION: &str = "1";
/// Separates version, scope and position in the signed payload; scopes
/// (`orders:usr_…`) and positions (`<ms>#<id>`) may contain `:` but never a
/// line break.
const SEP: char = '\n';

/// The server-side signing key, from `CURSOR_SECRET`.
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

impl CursorKey {
    pub fn from_secret(secret: &str) -> Result<Self, &'static str> {
        if secret.len() < 32 {
            return Err("must be at least 32 bytes");
        }
        HmacSha256::new_from_slice(secret.as_bytes())
            .map(Self)
            .map_err(|_| "unusable as an HMAC key")
    }

    fn tag(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }
}

/// A verified position: "continue after `after` within `scope`". What
/// `after` means (a SKU, an order's sort key) is up to the listing; it is
/// signed, so it is only ever a value we issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: String,
    pub after: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is invalid or was not issued for this listing")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode(&self, key: &CursorKey) -> String {
        let payload = format!("{VERSION}{SEP}{}{SEP}{}", self.scope, self.after);
        let tag = key.tag(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// Verifies the signature first (in constant time), then the listing.
    pub fn decode(token: &str, key: &CursorKey, scope: &str) -> Result<Self, InvalidCursor> {
        let (payload, tag) = token.split_once('.').ok_or(InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
        if tag.len() != TAG_LEN {
            return Err(InvalidCursor);
        }
        key.tag(&payload)
            .verify_truncated_left(&tag)
            .map_err(|_| InvalidCursor)?;
        let payload = String::from_utf8(payload).map_err(|_| InvalidCursor)?;
        let mut parts = payload.splitn(3, SEP);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some(s), Some(after)) if s == scope => Ok(Self {
                scope: s.to_string(),
                after: after.to_string(),
            }),
            _ => Err(InvalidCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> CursorKey {
        CursorKey::from_secret(secret).expect("valid key")
    }

    fn cursor() -> Cursor {
        Cursor {
            scope: "tea".into(),
            after: "TEA-001".into(),
        }
    }

    const K1: &str = "k1-0123456789abcdef0123456789abcdef";
    const K2: &str = "k2-0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips() {
        let token = cursor().encode(&key(K1));
        assert_eq!(Cursor::decode(&token, &key(K1), "tea"), Ok(cursor()));
    }

    #[test]
    fn rejects_every_single_character_change() {
        let token = cursor().encode(&key(K1));
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            if tampered != token {
                assert_eq!(
                    Cursor::decode(&tampered, &key(K1), "tea"),
                    Err(InvalidCursor),
                    "{tampered}"
                );
            }
        }
    }

    #[test]
    fn scopes_and_positions_may_contain_colons() {
        let cursor = Cursor {
            scope: "orders:usr_1".into(),
            after: "1700000000000#ord_1".into(),
        };
        let token = cursor.encode(&key(K1));
        assert_eq!(Cursor::decode(&token, &key(K1), "orders:usr_1"), Ok(cursor));
        assert_eq!(
            Cursor::decode(&token, &key(K1), "orders:usr_2"),
            Err(InvalidCursor)
        );
    }

    #[test]
    fn rejects_another_key_another_listing_and_garbage() {
        let token = cursor().encode(&key(K1));
        assert_eq!(Cursor::decode(&token, &key(K2), "tea"), Err(InvalidCursor));
        assert_eq!(
            Cursor::decode(&token, &key(K1), "coffee"),
            Err(InvalidCursor)
        );
        for garbage in ["", ".", "abc", "abc.def", "%%%.%%%"] {
            assert_eq!(Cursor::decode(garbage, &key(K1), "tea"), Err(InvalidCursor));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        // Scopes and positions as listings make them: a category or
        // `orders:usr_…`, a SKU or `<ms>#ord_…`; any text without a line
        // break (the payload separator) is fair.
        fn text() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                any::<char>().prop_filter("no separator", |c| *c != SEP),
                0..40,
            )
            .prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #[test]
            fn every_cursor_round_trips(scope in text(), after in text()) {
                let cursor = Cursor { scope: scope.clone(), after };
                let token = cursor.encode(&key(K1));
                prop_assert_eq!(Cursor::decode(&token, &key(K1), &scope), Ok(cursor));
            }

            #[test]
            fn every_mutation_is_rejected(
                scope in text(),
                after in text(),
                at in any::<proptest::sample::Index>(),
                byte in any::<u8>(),
                cut in any::<proptest::sample::Index>(),
            ) {
                let cursor = Cursor { scope: scope.clone(), after };
                let token = cursor.encode(&key(K1));
                // One byte replaced by any other byte.
                let mut bytes = token.clone().into_bytes();
                let i = at.index(bytes.len());
                if bytes[i] != byte {
                    bytes[i] = byte;
                    if let Ok(changed) = String::from_utf8(bytes) {
                        prop_assert_eq!(Cursor::decode(&changed, &key(K1), &scope), Err(InvalidCursor));
                    }
                }
                // Truncated anywhere, or extended.
                let end = cut.index(token.len());
                prop_assert_eq!(Cursor::decode(&token[..end], &key(K1), &scope), Err(InvalidCursor));
                prop_assert_eq!(
                    Cursor::decode(&format!("{token}A"), &key(K1), &scope),
                    Err(InvalidCursor)
                );
                // Another key or another listing.
                prop_assert_eq!(Cursor::decode(&token, &key(K2), &scope), Err(InvalidCursor));
                prop_assert_eq!(
                    Cursor::decode(&token, &key(K1), &format!("{scope}x")),
                    Err(InvalidCursor)
                );
            }
        }
    }
}
