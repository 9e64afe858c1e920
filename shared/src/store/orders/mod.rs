//! Orders in DynamoDB. One trait per capability, each in its own file, so
//! a function asks only for what it does: [`OrderReads`],
//! [`OrderLifecycle`], [`OrderPayments`], [`OrderRefunds`]. This file holds
//! the store, the outcomes, and the transaction helpers they share.

mod lifecycle;
mod payments;
mod reads;
mod refunds;

pub use lifecycle::OrderLifecycle;
pub use payments::OrderPayments;
pub use reads::OrderReads;
pub use refunds::OrderRefunds;

use aws_sdk_dynamodb::{
    types::{TransactWriteItem, Update},
    Client,
};

use super::attr::{n, s};
use super::built;
use super::outbox::{self, Relay};
use super::StoreError;
use crate::domain::UserId;
use crate::domain::{
    refund::{Refund, RefundStatus},
    OrderId, OrderStatus, Total,
};
use crate::events::{Change, Event, OrderRef};
use crate::keys;
use crate::payments::PaymentEvent;

use super::order_item::to_json;
pub use crate::domain::order::Order;

/// A page of orders, newest first; `last` is set when more may follow.
#[derive(Debug)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub last: Option<OrderPosition>,
}

/// Where an order sits in a listing: its creation time and id. Encoded in
/// cursors as `<ms>#<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPosition {
    pub created_ms: u64,
    pub id: OrderId,
}

impl OrderPosition {
    pub fn encode(&self) -> String {
        format!("{}#{}", self.created_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('#')?;
        Some(Self {
            created_ms: ms.parse().ok()?,
            id: OrderId::try_from(id.to_string()).ok()?,
        })
    }
}

/// What a payment event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The order is now paid.
    Paid,
    /// Seen before: nothing changed.
    Duplicate,
    /// Recorded; the order is not waiting for payment (failed payment, or
    /// already paid by another event).
    Recorded,
    /// Money arrived for an order that was cancelled, expired or already
    /// paid: recorded and added to its capture so it is refunded, never
    /// silently kept.
    RefundRequired,
}

/// What writing a refund change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundCommit {
    Done,
    /// The order changed since it was read; nothing written.
    Changed,
    /// The idempotency claim was taken over; nothing written.
    LeaseLost,
}

/// What the provider's word on a refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Settled(RefundStatus),
    /// This event was applied before: nothing changed.
    Duplicate,
    /// The refund was already settled this way (or the other).
    AlreadyFinal(RefundStatus),
    /// The order changed since it was read; nothing written.
    Changed,
}

/// Which orders a listing reads.
#[derive(Debug, Clone)]
pub enum OrderListing {
    OwnedBy(UserId),
    WithStatus(OrderStatus),
}

#[derive(Debug, Clone)]
pub struct DynamoOrders {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoOrders {
    /// Without a relay, events wait in the outbox for the sweeper.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            relay: None,
        }
    }

    /// Sends each transition's event right after its commit.
    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }
}

impl DynamoOrders {
    /// Moves an order from its current status to `next`, keeping the status
    /// index in step, conditional on the status it was read with. `extra`
    /// (stock returns, the payment record) and the transition's event join
    /// the same transaction, so all or none happen; the event is relayed
    /// right after.
    async fn transition(
        &self,
        order: &Order,
        next: OrderStatus,
        now: &str,
        extra: Vec<TransactWriteItem>,
        captured: Option<u64>,
    ) -> Result<Order, StoreError> {
        let mut set =
            String::from("SET #status = :next, #status_pk = :partition, updated_at = :now");
        if captured.is_some() {
            set.push_str(", captured_amount = :captured");
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::order::key(&order.order_id)))
            .update_expression(set)
            .condition_expression("#status = :current")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#status_pk", keys::GSI2.pk)
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":partition", keys::order::status_partition(next))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":current", s(order.status.as_str()));
        let update = match captured {
            Some(amount) => update.expression_attribute_values(":captured", n(amount)),
            None => update,
        };
        let update = built(update.build())?;
        let change = Change::order_became(
            next,
            OrderRef {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
            },
        )
        .ok_or_else(|| StoreError::Corrupt(format!("no transition to {}", next.as_str())))?;
        let event = Event::new(change);
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        actions.extend(outbox::put_actions(&self.table, &event)?);
        actions.extend(extra);
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &event).await;
                Ok(Order {
                    status: next,
                    updated_at: now.to_string(),
                    captured: captured.map_or(order.captured, |amount| Total {
                        amount,
                        ..order.captured
                    }),
                    ..order.clone()
                })
            }
            Err(_) => Err(StoreError::ConditionFailed),
        }
    }

    /// The order's refund state replaced, conditional on the refund
    /// version, status and capture it was read with, so concurrent refund
    /// changes serialise and a payment captured meanwhile (a duplicate
    /// joins the capture) makes the writer re-read and re-plan: the capture
    /// is never written from a read, except to pin it on older orders,
    /// which did not store it (and then only where it is still absent).
    fn refund_update(
        &self,
        order: &Order,
        refunds: &[Refund],
        refunded: Total,
        next: OrderStatus,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let version = if order.refund_version == 0 {
            "attribute_not_exists(refund_version)"
        } else {
            "refund_version = :version"
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::order::key(&order.order_id)))
            .update_expression(
                "SET refunds = :refunds, refunded_amount = :refunded, \
                 captured_amount = if_not_exists(captured_amount, :captured), \
                 refund_version = :next_version, \
                 #status = :next, #status_pk = :partition, updated_at = :now, \
                 status_before_refund = if_not_exists(status_before_refund, :current)",
            )
            .condition_expression(format!(
                "#status = :current AND {version} \
                 AND (captured_amount = :captured OR attribute_not_exists(captured_amount))"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#status_pk", keys::GSI2.pk)
            .expression_attribute_values(":refunds", s(to_json(&refunds)?))
            .expression_attribute_values(":refunded", n(refunded.amount))
            .expression_attribute_values(":captured", n(order.captured.amount))
            .expression_attribute_values(":next_version", n(order.refund_version + 1))
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":partition", keys::order::status_partition(next))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":current", s(order.status.as_str()));
        let update = if order.refund_version == 0 {
            update
        } else {
            update.expression_attribute_values(":version", n(order.refund_version))
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    fn event_attributes(
        &self,
        event: &PaymentEvent,
        outcome: &str,
        now: &str,
    ) -> Vec<(String, aws_sdk_dynamodb::types::AttributeValue)> {
        vec![
            ("order_id".into(), s(event.order_id.as_str())),
            ("outcome".into(), s(outcome)),
            ("amount".into(), n(event.amount)),
            ("currency".into(), s(event.currency.as_str())),
            ("received_at".into(), s(now)),
        ]
    }

    /// The event record as a transaction action: a repeat fails its
    /// condition and cancels the whole transaction.
    fn event_record(
        &self,
        event: &PaymentEvent,
        outcome: &str,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = keys::payment::event(event.id.as_str());
        item.extend(self.event_attributes(event, outcome, now));
        aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(|e| StoreError::Dynamo(e.to_string()))
    }

    /// Stock back for every line, and the code's redemption back if the
    /// order used one. Deleted products get their stock too: the units
    /// exist, and a restored product should show them.
    fn stock_returns(&self, order: &Order) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut returns = self.line_returns(order)?;
        if let Some(code) = &order.promotion_code {
            returns.extend(super::promotions::return_actions(
                &self.table,
                code,
                &order.user_id,
                order.promotion_once,
            )?);
        }
        Ok(returns)
    }

    fn line_returns(&self, order: &Order) -> Result<Vec<TransactWriteItem>, StoreError> {
        order
            .items
            .iter()
            .map(|line| self.stock_back(&line.sku, line.quantity.get()))
            .collect()
    }

    /// `units` of `sku` back on the shelf, as a transaction action.
    fn stock_back(
        &self,
        sku: &crate::domain::Sku,
        units: u32,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::key(sku)))
                .update_expression("ADD stock :qty")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_values(":qty", n(units))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
