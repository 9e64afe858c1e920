//! Worker on the accounts queue: the part of an account erasure that grows
//! with the account (`quiet_core::store::erasure` says what and why).
//!
//! Every step finds what is left to do and does it, so a redelivered or
//! retried event repeats nothing harmful, and a failure part-way is picked
//! up by the retry; the erasure is marked complete only after all of them.

use quiet_core::{
    clock,
    events::{Change, Event, Topic},
    keys,
    store::{ErasureStore, OutboxStore},
    worker::{Receipt, WorkerError},
};

pub struct Deps<E, X> {
    pub erasures: E,
    pub outbox: X,
}

pub async fn handle<E: ErasureStore, X: OutboxStore>(
    deps: &Deps<E, X>,
    event: Event,
    _delivery: Receipt,
) -> Result<(), WorkerError> {
    let Change::AccountErased {
        erasure_id,
        user_id,
        registration_scope,
    } = &event.change
    else {
        return Err(WorkerError::Malformed(format!(
            "{} does not belong on the accounts queue",
            event.change.name()
        )));
    };
    // Only the sign-up scope of an email may be cleared from here.
    if !registration_scope.starts_with("REGISTERING#") {
        return Err(WorkerError::Malformed("not a registration scope".into()));
    }
    let orders = deps.erasures.scrub_orders(user_id).await?;
    let deliveries = deps.erasures.scrub_deliveries(user_id).await?;
    let answers = deps.erasures.scrub_answers(user_id).await?;
    let sessions = deps.erasures.revoke_sessions(user_id).await?;
    let own = deps
        .erasures
        .clear_partition(&keys::account::user_partition(user_id))
        .await?;
    let signup = deps.erasures.clear_partition(registration_scope).await?;
    deps.erasures
        .complete(erasure_id, &clock::now_rfc3339())
        .await?;
    tracing::info!(
        erasure_id = erasure_id.as_str(),
        orders,
        deliveries,
        answers,
        sessions,
        own,
        signup,
        "account erasure completed"
    );
    deps.outbox.ack(&event.event_id, Topic::Accounts).await?;
    Ok(())
}
