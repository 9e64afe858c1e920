//! Worker on the order events queue: tells customers what happened to
//! their orders. `order.paid` → order confirmation, `order.shipped` →
//! shipping notice, `order.cancelled` / `order.expired` → a notice that the
//! reservation was released, `refund.succeeded` → a refund notice.
//! `order.placed` and `refund.failed` need no message (the confirmation
//! follows payment; a failed refund is staff's to retry).
//!
//! Idempotent: the notification's key derives from the event, so a
//! redelivered or resent event delivers nothing twice. Acknowledging the
//! event in the outbox comes last, so a crash before it only causes a
//! harmless resend.

use quiet_core::{
    clock,
    domain::Total,
    events::{Change, Event, OrderRef, Topic},
    store::{Notification, NotificationKind, NotificationStore, Order, OrderReads, OutboxStore},
    worker::{Receipt, WorkerError},
};

pub struct Deps<O, N, X> {
    pub orders: O,
    pub notifications: N,
    pub outbox: X,
}

pub async fn handle<O: OrderReads, N: NotificationStore, X: OutboxStore>(
    deps: &Deps<O, N, X>,
    event: Event,
    _delivery: Receipt,
) -> Result<(), WorkerError> {
    let (kind, order_ref) = match &event.change {
        Change::OrderPlaced(_) => (None, None),
        Change::OrderPaid(order) => (Some(NotificationKind::OrderConfirmation), Some(order)),
        Change::OrderShipped(order) => (Some(NotificationKind::ShippingNotice), Some(order)),
        Change::OrderCancelled(order) => (Some(NotificationKind::OrderCancelled), Some(order)),
        Change::OrderExpired(order) => (Some(NotificationKind::OrderExpired), Some(order)),
        Change::RefundSucceeded(refund) => (
            Some(NotificationKind::RefundIssued),
            Some(&OrderRef {
                order_id: refund.order_id.clone(),
                user_id: refund.user_id.clone(),
            }),
        ),
        Change::RefundFailed(_) => (None, None),
        Change::ReportRequested { .. }
        | Change::RefundRequested(_)
        | Change::WebhookReplayRequested { .. }
        | Change::ProductChanged { .. }
        | Change::AccountErased { .. } => {
            return Err(WorkerError::Malformed(format!(
                "{} does not belong on the order events queue",
                event.change.name()
            )))
        }
    };
    if let (Some(kind), Some(order_ref)) = (kind, order_ref) {
        let order = deps
            .orders
            .get(&order_ref.order_id)
            .await?
            .filter(|order| order.user_id == order_ref.user_id)
            .ok_or_else(|| {
                WorkerError::Missing(format!("order {} not found", order_ref.order_id))
            })?;
        let notification = compose(kind, &order, &event);
        let fresh = deps.notifications.deliver(&notification).await?;
        tracing::info!(
            notification = kind.as_str(),
            order_id = %order.order_id,
            duplicate = !fresh,
            "notification delivered"
        );
    }
    deps.outbox.ack(&event.event_id, Topic::Orders).await?;
    Ok(())
}

fn money(total: Total) -> String {
    format!(
        "{} {}.{:02}",
        total.currency.code(),
        total.amount / 100,
        total.amount % 100
    )
}

/// The message text. Plain text: it is shown as is and would be the body
/// of the email a provider sends.
pub fn compose(kind: NotificationKind, order: &Order, event: &Event) -> Notification {
    let id = &order.order_id;
    let (subject, body) = match kind {
        NotificationKind::OrderConfirmation => {
            let lines: Vec<String> = order
                .items
                .iter()
                .map(|line| format!("{} × {} ({})", line.quantity.get(), line.name, line.sku))
                .collect();
            (
                format!("Order confirmed: {id}"),
                format!(
                    "Thank you. We received your payment of {} for order {id}:\n{}\nWe will tell you when it ships.",
                    money(order.total),
                    lines.join("\n")
                ),
            )
        }
        NotificationKind::ShippingNotice => (
            format!("Your order has shipped: {id}"),
            format!(
                "Order {id} is on its way to {}, {}.",
                order.shipping_address.city.as_str(),
                order.shipping_address.country.as_str()
            ),
        ),
        NotificationKind::OrderCancelled => (
            format!("Order cancelled: {id}"),
            format!("Order {id} was cancelled as you asked. You have not been charged."),
        ),
        NotificationKind::RefundIssued => {
            let refund = match &event.change {
                Change::RefundSucceeded(refund) => order
                    .refunds
                    .iter()
                    .find(|r| r.refund_id == refund.refund_id),
                _ => None,
            };
            let amount = refund.map_or(order.refunded, |r| r.amount);
            (
                format!("Refund issued: {id}"),
                format!(
                    "We refunded {} for order {id} to your original payment method. It can take a few days to appear.",
                    money(amount)
                ),
            )
        }
        NotificationKind::OrderExpired => (
            format!("Order expired: {id}"),
            format!(
                "We did not receive payment for order {id} in time, so we released the items we were holding. You have not been charged."
            ),
        ),
    };
    Notification {
        id: event.event_id.clone(),
        kind,
        order_id: order.order_id.clone(),
        subject,
        body,
        created_at: clock::now_rfc3339(),
        user_id: order.user_id.clone(),
    }
}
