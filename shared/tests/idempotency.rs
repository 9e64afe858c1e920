//! The idempotency store against the emulator.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quiet_core::auth::UserId;
use quiet_core::store::idempotency::{
    Claim, Completion, DynamoIdempotency, IdempotencyStore, KeyScope, StoredResponse,
};

fn store() -> DynamoIdempotency {
    DynamoIdempotency::new(testkit::dynamodb(), testkit::table())
}

/// A new key in a new scope, claimed: (scope, key hash, lease).
async fn claimed(store: &DynamoIdempotency) -> (KeyScope, String, String) {
    let scope = KeyScope::user(&UserId::generate());
    let key_hash = testkit::unique("key");
    let claim = store
        .claim(&scope, &key_hash, "body-hash", quiet_core::clock::now())
        .await
        .expect("claim");
    let Claim::Claimed { lease } = claim else {
        panic!("a new key is claimed, not {claim:?}");
    };
    (scope, key_hash, lease)
}

/// An effect whose transaction committed but whose answer was lost (a
/// timeout, a dropped connection) is released by the executor, which cannot
/// tell. The completed record must survive that, or a retry with the same
/// key runs the effect again (issue 37, defect 4).
#[tokio::test]
async fn releasing_a_completed_claim_keeps_its_response() {
    let store = store();
    let (scope, key_hash, lease) = claimed(&store).await;
    let response = StoredResponse::json(201, r#"{"done":true}"#.into());
    let completed = store
        .complete(&Completion {
            scope: &scope,
            key_hash: &key_hash,
            lease: &lease,
            response: &response,
            about: None,
        })
        .await
        .expect("complete");
    assert!(completed);

    store
        .release(&scope, &key_hash, &lease)
        .await
        .expect("release");

    let retry = store
        .claim(&scope, &key_hash, "body-hash", quiet_core::clock::now())
        .await
        .expect("claim again");
    assert_eq!(retry, Claim::Replay(response));
}

/// A claim whose effect wrote nothing is released, so a retry runs.
#[tokio::test]
async fn releasing_a_running_claim_lets_a_retry_run() {
    let store = store();
    let (scope, key_hash, lease) = claimed(&store).await;
    store
        .release(&scope, &key_hash, &lease)
        .await
        .expect("release");
    let retry = store
        .claim(&scope, &key_hash, "body-hash", quiet_core::clock::now())
        .await
        .expect("claim again");
    assert!(matches!(retry, Claim::Claimed { .. }), "{retry:?}");
}
