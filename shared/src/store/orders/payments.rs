//! What the payment provider says about an order.

use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::OrderReads;
use super::{DynamoOrders, PaymentOutcome};

use crate::domain::order::Order;
use crate::domain::{
    order::{payment_effect, PaymentEffect},
    OrderStatus,
};
use crate::keys;
use crate::payments::{PaymentEvent, PaymentEventType};
use crate::store::attr::{n, s};
use crate::store::built;
use crate::store::StoreError;

/// What the payment provider says about an order.
pub trait OrderPayments: Send + Sync {
    /// Records a provider event against its order (a repeat is a no-op)
    /// and, for a successful payment of a `pending_payment` order, marks it
    /// paid in the same transaction.
    fn record_payment(
        &self,
        event: &PaymentEvent,
        order: &Order,
        now: &str,
    ) -> impl Future<Output = Result<PaymentOutcome, StoreError>> + Send;
}

impl OrderPayments for DynamoOrders {
    async fn record_payment(
        &self,
        event: &PaymentEvent,
        order: &Order,
        now: &str,
    ) -> Result<PaymentOutcome, StoreError> {
        // What the payment does is the domain's rule; this makes it so.
        let succeeded = event.kind == PaymentEventType::Succeeded;
        if payment_effect(succeeded, order.status) == PaymentEffect::Pay {
            let record = self.event_record(event, "paid", now)?;
            match self
                .transition(
                    order,
                    OrderStatus::Paid,
                    now,
                    vec![record],
                    Some(event.amount),
                )
                .await
            {
                Ok(_) => return Ok(PaymentOutcome::Paid),
                // The order moved (cancelled, expired, paid) since we read
                // it, or the event was a concurrent duplicate: record below.
                Err(StoreError::ConditionFailed) => {}
                Err(err) => return Err(err),
            }
        }
        let current = self
            .get(&order.order_id)
            .await?
            .unwrap_or_else(|| order.clone());
        // Still awaiting payment after a lost race means a concurrent
        // duplicate of this event: recorded, as a failed payment is.
        if payment_effect(succeeded, current.status) != PaymentEffect::Capture {
            let mut item = keys::payment::event(event.id.as_str());
            let label = if succeeded {
                "recorded"
            } else {
                "payment_failed"
            };
            item.extend(self.event_attributes(event, label, now));
            return Ok(
                if crate::store::put_if_absent(&self.client, &self.table, item).await? {
                    PaymentOutcome::Recorded
                } else {
                    PaymentOutcome::Duplicate
                },
            );
        }
        // PaymentEffect::Capture: the money joins the capture, together with
        // the event record that makes a repeat a no-op.
        let capture = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::order::key(&order.order_id)))
                .update_expression(
                    "SET captured_amount = if_not_exists(captured_amount, :before) + :amount, \
                     updated_at = :now",
                )
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_values(":before", n(current.captured.amount))
                .expression_attribute_values(":amount", n(event.amount))
                .expression_attribute_values(":now", s(now))
                .build(),
        )?;
        let actions = vec![
            self.event_record(event, "refund_required", now)?,
            TransactWriteItem::builder().update(capture).build(),
        ];
        match crate::store::transact(&self.client, actions).await? {
            Ok(()) => Ok(PaymentOutcome::RefundRequired),
            Err(_) => Ok(PaymentOutcome::Duplicate),
        }
    }
}
