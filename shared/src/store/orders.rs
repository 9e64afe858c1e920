//! Orders: the record, its item encoding, and reads.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{TransactWriteItem, Update},
    Client,
};
use serde::Serialize;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::outbox::{self, Relay};
use super::StoreError;
use crate::auth::UserId;
use crate::domain::{
    promotion::PromoCode, tax::AppliedTax, Line, OrderId, OrderStatus, PageLimit, ShippingAddress,
    Total,
};
use crate::events::{Change, Event, OrderRef};
use crate::keys::{self, Item};
use crate::payments::{PaymentEvent, PaymentEventType};

/// An order as the API shows it. `user_id` and `created_ms` are kept for
/// authorization and ordering, never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub items: Vec<Line>,
    /// The lines at catalog price, before the discount.
    pub subtotal: Total,
    pub discount: Total,
    /// The sum of the lines' tax.
    pub tax: Total,
    /// What the customer pays: `subtotal - discount + tax` (without
    /// `+ tax` where prices include it).
    pub total: Total,
    /// The rate the order was taxed at, kept so a later rate change never
    /// rewrites it. Absent on orders placed before tax existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<AppliedTax>,
    /// The discount code redeemed by this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<PromoCode>,
    /// Whether the redemption wrote a once-per-customer item (given back
    /// with the counter on cancel or expiry).
    #[serde(skip)]
    pub promotion_once: bool,
    pub shipping_address: ShippingAddress,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[serde(skip)]
    pub user_id: UserId,
    #[serde(skip)]
    pub created_ms: u64,
}

pub(crate) fn encode_order(order: &Order) -> Result<Item, StoreError> {
    let mut item = keys::order::indexed_key(
        &order.order_id,
        &order.user_id,
        order.status,
        order.created_ms,
    );
    item.extend([
        ("order_id".into(), s(order.order_id.as_str())),
        ("user_id".into(), s(order.user_id.as_str())),
        ("status".into(), s(order.status.as_str())),
        ("items".into(), s(to_json(&order.items)?)),
        ("subtotal_amount".into(), n(order.subtotal.amount)),
        ("discount_amount".into(), n(order.discount.amount)),
        ("tax_amount".into(), n(order.tax.amount)),
        ("total_amount".into(), n(order.total.amount)),
        ("currency".into(), s(order.total.currency.code())),
        (
            "shipping_address".into(),
            s(to_json(&order.shipping_address)?),
        ),
        ("created_at".into(), s(&order.created_at)),
        ("updated_at".into(), s(&order.updated_at)),
        ("created_ms".into(), n(order.created_ms)),
    ]);
    if let Some(tax) = &order.tax_rate {
        item.insert("tax_rate".into(), s(to_json(tax)?));
    }
    if let Some(code) = &order.promotion_code {
        item.insert("promotion_code".into(), s(code.as_str()));
        item.insert(
            "promotion_once".into(),
            aws_sdk_dynamodb::types::AttributeValue::Bool(order.promotion_once),
        );
    }
    Ok(item)
}

/// Serialising our own plain types cannot fail; the error path exists so
/// that nothing needs an `unwrap`.
fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, name)?)
        .map_err(|_| StoreError::Corrupt(format!("order attribute {name} does not decode")))
}

pub(crate) fn decode_order(item: &Item) -> Result<Order, StoreError> {
    let currency = get_parsed(item, "currency")?;
    let total = Total {
        amount: get_n(item, "total_amount")?,
        currency,
    };
    // Orders placed before promotions existed store only the total.
    let amount_or = |name: &str, default: u64| -> Result<Total, StoreError> {
        let amount = match item.get(name) {
            Some(_) => get_n(item, name)?,
            None => default,
        };
        Ok(Total { amount, currency })
    };
    let promotion_code = match item.get("promotion_code") {
        Some(_) => Some(get_parsed(item, "promotion_code")?),
        None => None,
    };
    Ok(Order {
        order_id: get_parsed(item, "order_id")?,
        status: get_parsed(item, "status")?,
        items: from_json(item, "items")?,
        subtotal: amount_or("subtotal_amount", total.amount)?,
        discount: amount_or("discount_amount", 0)?,
        tax: amount_or("tax_amount", 0)?,
        total,
        tax_rate: match item.get("tax_rate") {
            Some(_) => Some(from_json(item, "tax_rate")?),
            None => None,
        },
        promotion_code,
        promotion_once: matches!(
            item.get("promotion_once"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        ),
        shipping_address: from_json(item, "shipping_address")?,
        created_at: get_s(item, "created_at")?.to_string(),
        updated_at: get_s(item, "updated_at")?.to_string(),
        user_id: get_parsed(item, "user_id")?,
        created_ms: get_n(item, "created_ms")?,
    })
}

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
    /// Money arrived for an order that was cancelled or expired meanwhile:
    /// recorded and flagged so it is refunded, never silently kept.
    RefundRequired,
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
        self.transition(&order, OrderStatus::Cancelled, now, returns)
            .await
    }

    async fn record_payment(
        &self,
        event: &PaymentEvent,
        order: &Order,
        now: &str,
    ) -> Result<PaymentOutcome, StoreError> {
        let succeeded = event.kind == PaymentEventType::Succeeded;
        if succeeded && order.status == OrderStatus::PendingPayment {
            let record = self.event_record(event, "paid", now)?;
            match self
                .transition(order, OrderStatus::Paid, now, vec![record])
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
        let outcome = match (succeeded, current.status) {
            (true, OrderStatus::Cancelled | OrderStatus::Expired) => PaymentOutcome::RefundRequired,
            _ => PaymentOutcome::Recorded,
        };
        let label = match outcome {
            PaymentOutcome::RefundRequired => "refund_required",
            _ if succeeded => "recorded",
            _ => "payment_failed",
        };
        let mut item = keys::payment::event(event.id.as_str());
        item.extend(self.event_attributes(event, label, now));
        if super::put_if_absent(&self.client, &self.table, item).await? {
            Ok(outcome)
        } else {
            Ok(PaymentOutcome::Duplicate)
        }
    }

    async fn ship(&self, id: &OrderId, now: &str) -> Result<Order, StoreError> {
        let order = self.get(id).await?.ok_or(StoreError::NotFound)?;
        if order.status != OrderStatus::Paid {
            return Err(StoreError::ConditionFailed);
        }
        self.transition(&order, OrderStatus::Shipped, now, Vec::new())
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
        self.transition(order, OrderStatus::Expired, now, returns)
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
    ) -> Result<Order, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::order::key(&order.order_id)))
            .update_expression("SET #status = :next, #status_pk = :partition, updated_at = :now")
            .condition_expression("#status = :current")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#status_pk", keys::GSI2.pk)
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":partition", keys::order::status_partition(next))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":current", s(order.status.as_str()))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let event = Event::new(Change::order_became(
            next,
            OrderRef {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
            },
        ));
        let mut actions = vec![
            TransactWriteItem::builder().update(update).build(),
            outbox::put_action(&self.table, &event)?,
        ];
        actions.extend(extra);
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &event).await;
                Ok(Order {
                    status: next,
                    updated_at: now.to_string(),
                    ..order.clone()
                })
            }
            Err(_) => Err(StoreError::ConditionFailed),
        }
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
            .map(|line| {
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::key(&line.sku)))
                    .update_expression("ADD stock :qty")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK)
                    .expression_attribute_values(":qty", n(line.quantity.get()))
                    .build()
                    .map(|update| TransactWriteItem::builder().update(update).build())
                    .map_err(|e| StoreError::Dynamo(e.to_string()))
            })
            .collect()
    }
}
