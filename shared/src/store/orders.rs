//! Orders: the record, its item encoding, and reads.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{TransactWriteItem, Update},
    Client,
};

use super::attr::{n, s};
use super::built;
use super::idempotency::{self, Completion};
use super::outbox::{self, Relay};
use super::StoreError;
use crate::domain::UserId;
use crate::domain::{
    order::{payment_effect, PaymentEffect},
    refund::{Plan, Refund, RefundId, RefundStatus},
    OrderId, OrderStatus, PageLimit, Total,
};
use crate::events::{Change, Event, OrderRef, RefundRef};
use crate::keys;
use crate::payments::{PaymentEvent, PaymentEventType};

use super::order_item::{decode_order, to_json};
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

pub trait OrderStore: Send + Sync {
    fn get(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    fn list(
        &self,
        listing: &OrderListing,
        limit: PageLimit,
        after: Option<&OrderPosition>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;

    /// `pending_payment → cancelled` for its owner, returning the stock in
    /// the same transaction; the status condition makes the return happen
    /// exactly once. `NotFound` for a missing or foreign order,
    /// `ConditionFailed` for any other status.
    fn cancel(
        &self,
        id: &OrderId,
        owner: &UserId,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// Records a provider event against its order (a repeat is a no-op)
    /// and, for a successful payment of a `pending_payment` order, marks it
    /// paid in the same transaction.
    fn record_payment(
        &self,
        event: &PaymentEvent,
        order: &Order,
        now: &str,
    ) -> impl Future<Output = Result<PaymentOutcome, StoreError>> + Send;

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

    /// `paid → shipped`. `NotFound` / `ConditionFailed` otherwise.
    fn ship(
        &self,
        id: &OrderId,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// Orders still `pending_payment` that were placed before `cutoff_ms`,
    /// oldest first.
    fn overdue(
        &self,
        cutoff_ms: u64,
        limit: PageLimit,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// `pending_payment → expired`, returning the stock in the same
    /// transaction; `ConditionFailed` when the order moved on (paid,
    /// cancelled, or expired by an overlapping run), which changes nothing.
    fn expire(
        &self,
        order: &Order,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// Every order now in `status` that was placed in `[from_ms, to_ms)`.
    fn placed_between(
        &self,
        status: OrderStatus,
        from_ms: u64,
        to_ms: u64,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
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

impl OrderStore for DynamoOrders {
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::order::key(id)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode_order).transpose()
    }

    async fn list(
        &self,
        listing: &OrderListing,
        limit: PageLimit,
        after: Option<&OrderPosition>,
    ) -> Result<OrderPage, StoreError> {
        let (index, partition) = match listing {
            OrderListing::OwnedBy(user) => (keys::GSI1, keys::order::owner_partition(user)),
            OrderListing::WithStatus(status) => {
                (keys::GSI2, keys::order::status_partition(*status))
            }
        };
        let start = after.map(|position| {
            keys::order::resume_after(&position.id, position.created_ms, index, partition.clone())
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", partition)
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode_order)
            .collect::<Result<Vec<_>, _>>()?;
        let last = out
            .last_evaluated_key
            .and(items.last().map(|order| OrderPosition {
                created_ms: order.created_ms,
                id: order.order_id.clone(),
            }));
        Ok(OrderPage { items, last })
    }

    async fn cancel(&self, id: &OrderId, owner: &UserId, now: &str) -> Result<Order, StoreError> {
        let order = self
            .get(id)
            .await?
            .filter(|order| &order.user_id == owner)
            .ok_or(StoreError::NotFound)?;
        if order.status != OrderStatus::PendingPayment {
            return Err(StoreError::ConditionFailed);
        }
        let returns = self.stock_returns(&order)?;
        self.transition(&order, OrderStatus::Cancelled, now, returns, None)
            .await
    }

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
                if super::put_if_absent(&self.client, &self.table, item).await? {
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
        match super::transact(&self.client, actions).await? {
            Ok(()) => Ok(PaymentOutcome::RefundRequired),
            Err(_) => Ok(PaymentOutcome::Duplicate),
        }
    }

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
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &event).await;
                Ok(RefundCommit::Done)
            }
            Err(codes) if super::condition_failed(&codes, 1) => Ok(RefundCommit::LeaseLost),
            Err(codes) if super::condition_failed(&codes, 0) => Ok(RefundCommit::Changed),
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
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &announced).await;
                Ok(Settlement::Settled(outcome))
            }
            Err(codes) if super::condition_failed(&codes, 1) => Ok(Settlement::Duplicate),
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
        match super::transact(&self.client, vec![update]).await? {
            Ok(()) => Ok(RefundCommit::Done),
            Err(_) => Ok(RefundCommit::Changed),
        }
    }

    async fn ship(&self, id: &OrderId, now: &str) -> Result<Order, StoreError> {
        let order = self.get(id).await?.ok_or(StoreError::NotFound)?;
        if order.status != OrderStatus::Paid {
            return Err(StoreError::ConditionFailed);
        }
        self.transition(&order, OrderStatus::Shipped, now, Vec::new(), None)
            .await
    }

    async fn overdue(&self, cutoff_ms: u64, limit: PageLimit) -> Result<Vec<Order>, StoreError> {
        let index = keys::GSI2;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk AND #sk < :cutoff")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_names("#sk", index.sk)
            .expression_attribute_values(
                ":pk",
                keys::order::status_partition(OrderStatus::PendingPayment),
            )
            .expression_attribute_values(":cutoff", keys::order::created_bound(cutoff_ms))
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(decode_order)
            // The index is eventually consistent: it may still list an
            // order that just moved on; the transition's condition decides.
            .filter(|order| {
                order
                    .as_ref()
                    .map_or(true, |o| o.status == OrderStatus::PendingPayment)
            })
            .collect()
    }

    async fn expire(&self, order: &Order, now: &str) -> Result<Order, StoreError> {
        if order.status != OrderStatus::PendingPayment {
            return Err(StoreError::ConditionFailed);
        }
        let returns = self.stock_returns(order)?;
        self.transition(order, OrderStatus::Expired, now, returns, None)
            .await
    }

    async fn placed_between(
        &self,
        status: OrderStatus,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Order>, StoreError> {
        let index = keys::GSI2;
        let mut orders = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", index.pk)
                .expression_attribute_names("#sk", index.sk)
                .expression_attribute_values(":pk", keys::order::status_partition(status))
                .expression_attribute_values(":from", keys::order::created_bound(from_ms))
                .expression_attribute_values(":to", keys::order::created_bound(to_ms))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                orders.push(decode_order(&item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(orders);
            }
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
