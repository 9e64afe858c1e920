//! Page cursors come back from clients: decoding any text must not panic,
//! must accept nothing we did not sign, and what we sign must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quiet_core::domain::{Cursor, CursorKey};

fuzz_target!(|data: &[u8]| {
    let key = CursorKey::from_secret("fuzz-cursor-secret-0123456789abcdef").expect("key");
    if let Ok(text) = std::str::from_utf8(data) {
        // Random text never verifies: a forgery would need the HMAC key.
        assert!(Cursor::decode(text, &key, "tea").is_err());
        // Split the input into a listing and a position and sign them.
        if let Some((scope, after)) = text.split_once('|') {
            if !scope.contains('\n') {
                let cursor = Cursor {
                    scope: scope.to_string(),
                    after: after.to_string(),
                };
                let token = cursor.encode(&key);
                assert_eq!(Cursor::decode(&token, &key, scope), Ok(cursor));
            }
        }
    }
});
