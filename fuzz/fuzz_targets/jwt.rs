//! Bearer tokens are attacker-controlled. Any text: verification must not
//! panic and accepts nothing (signing needs our private key). A real token
//! with any one byte changed: refused, so no part of a token is malleable.
#![no_main]

use std::{collections::HashMap, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use quiet_core::auth::{Role, TokenScope, TokenSigner, TokenVerifier, UserId};

const NOW: u64 = 1_800_000_000;

/// The verifier and a real token, made once: signing per input would
/// spend the fuzzing budget on Ed25519 instead of on the parser.
fn fixture() -> &'static (TokenVerifier, String) {
    static FIXTURE: OnceLock<(TokenVerifier, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let scope = TokenScope {
            issuer: "fuzz".into(),
            audience: "fuzz-api".into(),
        };
        let verifier = TokenVerifier::new(
            HashMap::from([("fuzz".to_string(), key.verifying_key())]),
            scope.clone(),
        );
        let user =
            UserId::try_from("usr_0123456789abcdef0123456789abcdef".to_string()).expect("user");
        let token = TokenSigner::new("fuzz".into(), key, scope).sign(&user, Role::Customer, NOW);
        assert!(verifier.verify(&token, NOW).is_ok());
        (verifier, token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (verifier, token) = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        if text != token {
            assert!(verifier.verify(text, NOW).is_err(), "accepted {text:?}");
        }
    }
    // One byte of the real token replaced by another printable byte.
    if let [at, byte, ..] = *data {
        let mut bytes = token.clone().into_bytes();
        let i = usize::from(at) * bytes.len() / 256;
        let byte = 0x21 + byte % 94;
        if bytes[i] != byte {
            bytes[i] = byte;
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(
                verifier.verify(&changed, NOW).is_err(),
                "accepted {changed:?}"
            );
        }
    }
});
