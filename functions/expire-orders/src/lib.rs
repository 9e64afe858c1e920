//! Scheduled: orders unpaid for longer than `ORDER_PAYMENT_TTL` (seconds,
//! default 900) become `expired` and their stock goes back.
//!
//! Each expiry is one transaction conditional on the order still being
//! `pending_payment`, so overlapping runs, a customer's cancel and a payment
//! webhook can race it freely: exactly one of them moves the order, and the
//! stock comes back at most once. A payment that loses to expiry is
//! recorded and flagged for refund by the webhook.

use std::time::Duration;

use quiet_core::{
    clock,
    domain::PageLimit,
    store::{OrderLifecycle, OrderReads, StoreError},
    worker::WorkerError,
};
use serde::Serialize;

/// Bounds one run (100 orders a page): the rest waits for the next run.
const MAX_PAGES: usize = 20;

pub struct Deps<O> {
    pub orders: O,
    pub payment_ttl: Duration,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Orders this run expired.
    pub expired: u64,
    /// Orders that moved on (paid, cancelled, expired by another run)
    /// between the listing and the transition.
    pub skipped: u64,
}

pub async fn handle<O: OrderReads + OrderLifecycle>(
    deps: &Deps<O>,
    now_ms: u64,
) -> Result<Summary, WorkerError> {
    let ttl_ms = u64::try_from(deps.payment_ttl.as_millis()).unwrap_or(u64::MAX);
    let cutoff_ms = now_ms.saturating_sub(ttl_ms);
    let page = PageLimit::LARGEST;
    let mut summary = Summary::default();
    for _ in 0..MAX_PAGES {
        let overdue = deps.orders.overdue(cutoff_ms, page).await?;
        let full = overdue.len() == page.get();
        let before = summary.expired;
        for order in overdue {
            match deps.orders.expire(&order, &clock::now_rfc3339()).await {
                Ok(_) => {
                    summary.expired += 1;
                    tracing::info!(order_id = %order.order_id, "order expired");
                }
                Err(StoreError::ConditionFailed) => summary.skipped += 1,
                Err(err) => return Err(err.into()),
            }
        }
        // Stop when the listing is exhausted, or made no progress (an index
        // still listing orders that moved on).
        if !full || summary.expired == before {
            break;
        }
    }
    Ok(summary)
}
