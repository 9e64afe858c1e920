//! Scheduled: resends outbox events that no consumer has acknowledged
//! within `OUTBOX_RESEND_AFTER` seconds (default 60) of being written or
//! last sent: the send after the commit failed (SQS down, function killed),
//! or the message was lost or is still failing.
//!
//! Each resend pushes the event's due time forward, so a slow consumer gets
//! one resend per period, not one per run. After `MAX_RELAYS` resends the
//! event is parked for a human (its message is then in the DLQ, whose alarm
//! fires) instead of circling forever.

use std::time::Duration;

use quiet_core::{
    clock,
    store::{outbox::MAX_RELAYS, OutboxStore, Relay},
    worker::WorkerError,
};
use serde::Serialize;

/// Events handled per run; the rest wait for the next run.
const BATCH: u32 = 100;

pub struct Deps<X> {
    pub outbox: X,
    pub relay: Relay,
    pub resend_after: Duration,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub resent: u64,
    pub parked: u64,
    /// SQS refused a send: the run stopped early and will try again.
    pub failed: u64,
}

pub async fn handle<X: OutboxStore>(deps: &Deps<X>, now_ms: u64) -> Result<Summary, WorkerError> {
    let grace_ms = u64::try_from(deps.resend_after.as_millis()).unwrap_or(u64::MAX);
    let due = deps
        .outbox
        .due(now_ms.saturating_sub(grace_ms), BATCH)
        .await?;
    let mut summary = Summary::default();
    for pending in due {
        let id = &pending.event.event_id;
        if pending.relays >= MAX_RELAYS {
            deps.outbox
                .park(id, pending.topic, &clock::now_rfc3339())
                .await?;
            summary.parked += 1;
            tracing::error!(
                event_id = %id,
                event_type = pending.event.change.name(),
                topic = pending.topic.as_str(),
                relays = pending.relays,
                "outbox event parked: never acknowledged; see the queue's DLQ"
            );
            continue;
        }
        if let Err(err) = deps
            .relay
            .send(&pending.event, pending.topic, &pending.correlation_id)
            .await
        {
            summary.failed += 1;
            tracing::warn!(event_id = %id, error = %err, "resend failed; retrying next run");
            break;
        }
        if deps.outbox.resent(id, pending.topic, now_ms).await? {
            summary.resent += 1;
            tracing::info!(
                event_id = %id,
                event_type = pending.event.change.name(),
                topic = pending.topic.as_str(),
                correlation_id = pending.correlation_id,
                "outbox event resent"
            );
        }
    }
    Ok(summary)
}
