//! Worker on the reports queue: computes a requested sales report.
//!
//! The report covers orders placed in `[from, to)` that were paid (and
//! possibly shipped since): their count, revenue, and per-SKU units and
//! revenue. Idempotent: a job already final is acknowledged without work,
//! and a retry of a running job recomputes the same figures. A job that
//! keeps failing is marked `failed` on its last delivery, so nobody waits
//! on it forever, and its message goes on to the DLQ.

use quiet_core::{
    clock,
    domain::OrderStatus,
    events::{Change, Event, Topic},
    store::{OrderReads, OutboxStore, ReportStore, ReportSummary},
    worker::{Receipt, WorkerError},
};

pub struct Deps<O, R, X> {
    pub orders: O,
    pub reports: R,
    pub outbox: X,
}

/// The statuses whose orders brought in money (refunded ones only if they
/// were sold: paid or shipped before the refund, not a late payment for a
/// cancelled order given back).
const REVENUE: [OrderStatus; 4] = [
    OrderStatus::Paid,
    OrderStatus::Shipped,
    OrderStatus::PartiallyRefunded,
    OrderStatus::Refunded,
];

pub async fn handle<O: OrderReads, R: ReportStore, X: OutboxStore>(
    deps: &Deps<O, R, X>,
    event: Event,
    delivery: Receipt,
) -> Result<(), WorkerError> {
    let Change::ReportRequested { job_id } = &event.change else {
        return Err(WorkerError::Malformed(format!(
            "{} does not belong on the reports queue",
            event.change.name()
        )));
    };
    let job = deps
        .reports
        .get(job_id)
        .await?
        .ok_or_else(|| WorkerError::Missing(format!("report {job_id} not found")))?;
    if deps.reports.start(job_id, &clock::now_rfc3339()).await? {
        match summarise(deps, job.from_ms, job.to_ms).await {
            Ok(summary) => {
                deps.reports
                    .finish(job_id, Ok(&summary), &clock::now_rfc3339())
                    .await?;
                tracing::info!(%job_id, orders = summary.orders, "report succeeded");
            }
            Err(err) if delivery.is_last() => {
                deps.reports
                    .finish(
                        job_id,
                        Err("the report could not be computed"),
                        &clock::now_rfc3339(),
                    )
                    .await?;
                return Err(err);
            }
            Err(err) => return Err(err),
        }
    }
    deps.outbox.ack(&event.event_id, Topic::Reports).await?;
    Ok(())
}

async fn summarise<O: OrderReads, R, X>(
    deps: &Deps<O, R, X>,
    from_ms: u64,
    to_ms: u64,
) -> Result<ReportSummary, WorkerError> {
    let mut orders = Vec::new();
    for status in REVENUE {
        orders.extend(
            deps.orders
                .placed_between(status, from_ms, to_ms)
                .await?
                .into_iter()
                .filter(|order| {
                    matches!(
                        order.status_before_refund.unwrap_or(order.status),
                        OrderStatus::Paid | OrderStatus::Shipped
                    )
                }),
        );
    }
    ReportSummary::of(&orders)
        .ok_or_else(|| WorkerError::Malformed("report totals overflowed".into()))
}
