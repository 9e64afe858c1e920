//! Checkout: the idempotency claim and the one transaction that places an
//! order.
//!
//! 1. `claim` writes the idempotency record (`PutItem`, conditional). On a
//!    conflict DynamoDB returns the existing record (`ALL_OLD`), which says
//!    replay, still running, or another body, with no second read.
//! 2. The caller reads the cart and its products (2 calls), and the live
//!    promotion when the cart carries a code (1 more).
//! 3. `commit` is one `TransactWriteItems`: a conditional stock decrement per
//!    SKU (`stock >= :qty`; for a sharded SKU, of the shard the caller
//!    chose, or of several when one is short), the order, the cart's deletion (conditional on
//!    the version read), the record's completion (conditional on the
//!    caller's lease), the `order.placed` outbox event and, with a code, its
//!    redemption (the counter under its limit; the customer's item for a
//!    once-per-customer code). If any condition fails nothing is written. The event is relayed to SQS after the commit
//!    (an SQS call, not a DynamoDB one).
//!
//! A claim left `in_progress` by a crashed executor can be taken over after
//! [`STALE_CLAIM_SECS`]; the lease condition in `commit` makes sure only one
//! executor's transaction can ever succeed.

use std::future::Future;

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    types::{Put, TransactWriteItem, Update},
    Client,
};

use super::attr::{n, s};
use super::idempotency::{self, Completion, DynamoIdempotency, IdempotencyStore, KeyScope};
use super::order_item::encode_order;
use super::orders::Order;
use super::outbox::{self, Relay};
use super::promotions::{self, Promotion};
use super::shards;
use super::{built, condition_failed, StoreError};
use crate::domain::stock::{Bin, Bins, Take};
use crate::domain::Sku;
use crate::domain::UserId;
use crate::events::{Change, Event, OrderRef};
use crate::keys;

pub use super::idempotency::{Claim, RECORD_TTL_SECS, STALE_CLAIM_SECS};

/// Units of one order line taken from one bin (domain::stock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTake {
    /// Index of the line in the order's items.
    pub line: usize,
    pub take: Take,
}

impl LineTake {
    /// Every line's units from its product item: an unsharded catalog.
    pub fn whole_lines(order: &Order) -> Vec<Self> {
        order
            .items
            .iter()
            .enumerate()
            .map(|(line, item)| Self {
                line,
                take: Take {
                    bin: Bin::Product,
                    units: item.quantity.get(),
                },
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    Placed,
    /// These SKUs had too little stock in the bins taken from (or were
    /// deleted); nothing written.
    OutOfStock(Vec<Sku>),
    /// The cart changed since it was read; nothing written.
    CartChanged,
    /// Our claim was taken over; another executor owns this key now.
    LeaseLost,
    /// The code reached its limit or changed since it was read; nothing
    /// written.
    PromotionExhausted,
    /// This customer already redeemed the once-per-customer code.
    PromotionAlreadyUsed,
}

/// Checkout claims its key like any idempotent request, then commits.
pub trait CheckoutStore: IdempotencyStore {
    /// `completion` stores the response (the order) with the order;
    /// `takes` say where each line's units come from (every line's units,
    /// exactly).
    fn commit(
        &self,
        user: &UserId,
        order: &Order,
        takes: &[LineTake],
        cart_version: u64,
        promotion: Option<&Promotion>,
        completion: &Completion<'_>,
    ) -> impl Future<Output = Result<Commit, StoreError>> + Send;

    /// Every bin of these sharded SKUs (with how many shards each may
    /// span), read strongly consistent: for a checkout whose shard was
    /// short.
    fn bins(
        &self,
        skus: &[(Sku, u8)],
    ) -> impl Future<Output = Result<HashMap<Sku, Bins>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCheckout {
    client: Client,
    table: String,
    relay: Option<Relay>,
    idempotency: DynamoIdempotency,
}

impl DynamoCheckout {
    /// Without a relay, `order.placed` waits in the outbox for the sweeper.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            idempotency: DynamoIdempotency::new(client.clone(), &table),
            client,
            table,
            relay: None,
        }
    }

    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }
}

impl IdempotencyStore for DynamoCheckout {
    async fn claim(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        request_hash: &str,
        now: u64,
    ) -> Result<Claim, StoreError> {
        self.idempotency
            .claim(scope, key_hash, request_hash, now)
            .await
    }

    async fn release(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        lease: &str,
    ) -> Result<(), StoreError> {
        self.idempotency.release(scope, key_hash, lease).await
    }

    async fn complete(&self, completion: &Completion<'_>) -> Result<bool, StoreError> {
        self.idempotency.complete(completion).await
    }
}

impl CheckoutStore for DynamoCheckout {
    async fn commit(
        &self,
        user: &UserId,
        order: &Order,
        takes: &[LineTake],
        cart_version: u64,
        promotion: Option<&Promotion>,
        completion: &Completion<'_>,
    ) -> Result<Commit, StoreError> {
        let lines = takes.len();
        let mut actions = Vec::with_capacity(lines + 7);
        for LineTake { line, take } in takes {
            let sku = &order
                .items
                .get(*line)
                .ok_or_else(|| StoreError::Corrupt(format!("no line {line}")))?
                .sku;
            actions.push(shards::take_action(&self.table, sku, *take)?);
        }
        let place = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode_order(order)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().put(place).build());
        // Emptied, not deleted: the next version follows this one, so a
        // stale checkout that read this version can never match a cart the
        // shopper fills again afterwards (deleted, it would restart at 1).
        let clear_cart = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::cart::cart(user)))
                .update_expression("SET #lines = :empty, version = :next REMOVE promotion")
                .condition_expression("version = :version")
                .expression_attribute_names("#lines", "lines")
                .expression_attribute_values(":empty", s("[]"))
                .expression_attribute_values(":version", n(cart_version))
                .expression_attribute_values(":next", n(cart_version + 1))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().update(clear_cart).build());
        actions.push(idempotency::complete_action(&self.table, completion)?);
        let placed = Event::new(Change::OrderPlaced(OrderRef {
            order_id: order.order_id.clone(),
            user_id: user.clone(),
        }));
        let outbox = outbox::put_actions(&self.table, &placed)?;
        // The promotion's conditions come after one outbox item per topic.
        let promotion_at = lines + 3 + outbox.len();
        actions.extend(outbox);
        if let Some(promotion) = promotion {
            actions.extend(promotions::redeem_actions(
                &self.table,
                promotion,
                user,
                order.order_id.as_str(),
            )?);
        }

        let codes = match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &placed).await;
                return Ok(Commit::Placed);
            }
            Err(codes) => codes,
        };
        let mut short: Vec<Sku> = Vec::new();
        for (i, LineTake { line, .. }) in takes.iter().enumerate() {
            let sku = &order.items[*line].sku;
            if condition_failed(&codes, i) && !short.contains(sku) {
                short.push(sku.clone());
            }
        }
        Ok(if condition_failed(&codes, lines + 2) {
            Commit::LeaseLost
        } else if !short.is_empty() {
            Commit::OutOfStock(short)
        } else if condition_failed(&codes, lines + 1) {
            Commit::CartChanged
        } else if condition_failed(&codes, promotion_at) {
            Commit::PromotionExhausted
        } else if condition_failed(&codes, promotion_at + 1) {
            Commit::PromotionAlreadyUsed
        } else {
            // The order's own condition (a fresh random id) cannot fail.
            return Err(StoreError::Dynamo(format!("checkout cancelled: {codes:?}")));
        })
    }

    async fn bins(&self, skus: &[(Sku, u8)]) -> Result<HashMap<Sku, Bins>, StoreError> {
        shards::read_bins(&self.client, &self.table, skus).await
    }
}
