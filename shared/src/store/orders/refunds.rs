//! Refunds of an order: writing one, and the provider's word on it.

use std::future::Future;

use super::{DynamoOrders, RefundCommit, Settlement};

use crate::domain::order::Order;
use crate::domain::refund::{Plan, Refund, RefundId, RefundStatus};
use crate::events::{Change, Event, RefundRef};
use crate::payments::PaymentEvent;
use crate::store::idempotency::{self, Completion};
use crate::store::outbox::{self};
use crate::store::StoreError;

/// Refunds of an order: writing one, and the provider's word on it.
pub trait OrderRefunds: Send + Sync {
    /// Writes `refund` (priced by `plan` against `order` as read) to the
    /// order, with the idempotency completion, the `refund.requested`
    /// event and the restocked units, in one transaction conditional on the
    /// order's refund version: `Changed` if any refund change or status
    /// change came first (re-read and re-plan).
    fn refund(
        &self,
        order: &Order,
        refund: &Refund,
        plan: &Plan,
        completion: &Completion<'_>,
    ) -> impl Future<Output = Result<RefundCommit, StoreError>> + Send;

    /// The provider's final word on a refund, with the event record that
    /// makes a repeat a no-op. A failed refund's money is refundable again.
    /// `NotFound` when the order has no such refund.
    fn settle_refund(
        &self,
        event: &PaymentEvent,
        order: &Order,
        refund_id: &RefundId,
        succeeded: bool,
        now: &str,
    ) -> impl Future<Output = Result<Settlement, StoreError>> + Send;

    /// `pending → submitted` once the provider accepted the refund; a
    /// refund already past `pending` is left as it is (`Done`).
    fn mark_refund_submitted(
        &self,
        order: &Order,
        refund_id: &RefundId,
        now: &str,
    ) -> impl Future<Output = Result<RefundCommit, StoreError>> + Send;
}

impl OrderRefunds for DynamoOrders {
    async fn refund(
        &self,
        order: &Order,
        refund: &Refund,
        plan: &Plan,
        completion: &Completion<'_>,
    ) -> Result<RefundCommit, StoreError> {
        let mut refunds = order.refunds.clone();
        refunds.push(refund.clone());
        let update = self.refund_update(
            order,
            &refunds,
            plan.refunded,
            plan.status(),
            &refund.created_at,
        )?;
        let event = Event::new(Change::RefundRequested(RefundRef {
            order_id: order.order_id.clone(),
            user_id: order.user_id.clone(),
            refund_id: refund.refund_id.clone(),
        }));
        let mut actions = vec![
            update,
            idempotency::complete_action(&self.table, completion)?,
        ];
        actions.extend(outbox::put_actions(&self.table, &event)?);
        for line in &plan.restocked {
            actions.push(self.stock_back(&line.sku, line.quantity.get())?);
        }
        match crate::store::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &event).await;
                Ok(RefundCommit::Done)
            }
            Err(codes) if crate::store::condition_failed(&codes, 1) => Ok(RefundCommit::LeaseLost),
            Err(codes) if crate::store::condition_failed(&codes, 0) => Ok(RefundCommit::Changed),
            // A restocked product hard-deleted meanwhile: not something the
            // API can do, so the item was edited by hand.
            Err(codes) => Err(StoreError::Dynamo(format!("refund cancelled: {codes:?}"))),
        }
    }

    async fn settle_refund(
        &self,
        event: &PaymentEvent,
        order: &Order,
        refund_id: &RefundId,
        succeeded: bool,
        now: &str,
    ) -> Result<Settlement, StoreError> {
        let Some(position) = order.refunds.iter().position(|r| &r.refund_id == refund_id) else {
            return Err(StoreError::NotFound);
        };
        let current = order.refunds[position].status;
        if current.is_final() {
            return Ok(Settlement::AlreadyFinal(current));
        }
        let mut refunds = order.refunds.clone();
        let outcome = if succeeded {
            RefundStatus::Succeeded
        } else {
            RefundStatus::Failed
        };
        refunds[position].status = outcome;
        refunds[position].updated_at = now.to_string();
        let (refunded, next) = if succeeded {
            (order.refunded, order.status)
        } else {
            // The money stayed with the shop: refundable again.
            let refunded = order
                .refunded
                .checked_sub(refunds[position].amount)
                .ok_or_else(|| StoreError::Corrupt("refunded below zero".into()))?;
            let next = crate::domain::refund::status_after_failure(
                order.status_before_refund.unwrap_or(order.status),
                refunded.amount,
                &refunds,
            );
            (refunded, next)
        };
        let label = if succeeded {
            "refund_succeeded"
        } else {
            "refund_failed"
        };
        let reference = RefundRef {
            order_id: order.order_id.clone(),
            user_id: order.user_id.clone(),
            refund_id: refund_id.clone(),
        };
        let announced = Event::new(if succeeded {
            Change::RefundSucceeded(reference)
        } else {
            Change::RefundFailed(reference)
        });
        let mut actions = vec![
            self.refund_update(order, &refunds, refunded, next, now)?,
            self.event_record(event, label, now)?,
        ];
        actions.extend(outbox::put_actions(&self.table, &announced)?);
        match crate::store::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &announced).await;
                Ok(Settlement::Settled(outcome))
            }
            Err(codes) if crate::store::condition_failed(&codes, 1) => Ok(Settlement::Duplicate),
            Err(_) => Ok(Settlement::Changed),
        }
    }

    async fn mark_refund_submitted(
        &self,
        order: &Order,
        refund_id: &RefundId,
        now: &str,
    ) -> Result<RefundCommit, StoreError> {
        let mut refunds = order.refunds.clone();
        let Some(refund) = refunds.iter_mut().find(|r| &r.refund_id == refund_id) else {
            return Err(StoreError::NotFound);
        };
        if refund.status != RefundStatus::Pending {
            return Ok(RefundCommit::Done);
        }
        refund.status = RefundStatus::Submitted;
        refund.updated_at = now.to_string();
        let update = self.refund_update(order, &refunds, order.refunded, order.status, now)?;
        match crate::store::transact(&self.client, vec![update]).await? {
            Ok(()) => Ok(RefundCommit::Done),
            Err(_) => Ok(RefundCommit::Changed),
        }
    }
}
