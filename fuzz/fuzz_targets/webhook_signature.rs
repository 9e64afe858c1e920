//! The payment provider's `Payment-Signature` header and body: checking
//! any pair must not panic; our own signature passes, and stops passing
//! once the body changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quiet_core::payments::{PaymentProvider, SignedWebhooks};

const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let webhooks = SignedWebhooks::new("whsec_fuzz_secret").expect("secret");
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    if let Ok(header) = std::str::from_utf8(header) {
        // Passing would mean the fuzzer reproduced an HMAC-SHA256.
        assert!(
            webhooks.authenticate(Some(header), body, NOW).is_err(),
            "accepted {header:?}"
        );
    }
    let signed = webhooks.sign(NOW, body);
    assert!(webhooks.authenticate(Some(&signed), body, NOW).is_ok());
    let mut changed = body.to_vec();
    changed.push(b' ');
    assert!(webhooks.authenticate(Some(&signed), &changed, NOW).is_err());
});
