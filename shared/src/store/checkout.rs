//! Checkout: the idempotency claim and the one transaction that places an
//! order.
//!
//! 1. `claim` writes the idempotency record (`PutItem`, conditional). On a
//!    conflict DynamoDB returns the existing record (`ALL_OLD`), which says
//!    replay, still running, or another body, with no second read.
//! 2. The caller reads the cart and its products (2 calls), and the live
//!    promotion when the cart carries a code (1 more).
//! 3. `commit` is one `TransactWriteItems`: a conditional stock decrement per
//!    SKU (`stock >= :qty`), the order, the cart's deletion (conditional on
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

use aws_sdk_dynamodb::{
    types::{Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update},
    Client,
};

use super::attr::{get_n, get_s, n, s};
use super::orders::{encode_order, Order};
use super::outbox::{self, Relay};
use super::promotions::{self, Promotion};
use super::{built, condition_failed, StoreError};
use crate::auth::UserId;
use crate::domain::{OrderStatus, Sku};
use crate::events::{Change, Event, OrderRef};
use crate::keys;

/// Idempotency records are kept for 24 hours (TTL).
pub const RECORD_TTL_SECS: u64 = 24 * 60 * 60;
/// An `in_progress` claim older than this belonged to an executor that died
/// (functions time out after 10 s).
pub const STALE_CLAIM_SECS: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to execute, under this lease.
    Claimed { lease: String },
    /// Already completed with the same body: send this response again.
    Replay { status: u16, body: String },
    /// Another request with this key is running.
    InProgress,
    /// This key was used with a different body.
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    Placed,
    /// These SKUs had too little stock (or were deleted); nothing written.
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

pub trait CheckoutStore: Send + Sync {
    fn claim(
        &self,
        user: &UserId,
        key_hash: &str,
        request_hash: &str,
        now: u64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Gives a claim back after a failure that changed nothing, so a retry
    /// with the same key runs again instead of replaying an error.
    fn release(
        &self,
        user: &UserId,
        key_hash: &str,
        lease: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        user: &UserId,
        key_hash: &str,
        lease: &str,
        order: &Order,
        cart_version: u64,
        promotion: Option<&Promotion>,
        response_body: &str,
    ) -> impl Future<Output = Result<Commit, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCheckout {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoCheckout {
    /// Without a relay, `order.placed` waits in the outbox for the sweeper.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
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

impl CheckoutStore for DynamoCheckout {
    async fn claim(
        &self,
        user: &UserId,
        key_hash: &str,
        request_hash: &str,
        now: u64,
    ) -> Result<Claim, StoreError> {
        let lease = crate::auth::new_family_id();
        let mut item = keys::idempotency::record(user, key_hash);
        item.extend([
            ("status".into(), s("in_progress")),
            ("request_hash".into(), s(request_hash)),
            ("lease".into(), s(&lease)),
            ("started_at".into(), n(now)),
            (keys::EXPIRES_AT.into(), n(now + RECORD_TTL_SECS)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // New, expired (TTL deletion lags), or abandoned by a dead executor.
            .condition_expression(
                "attribute_not_exists(#pk) OR #ttl < :now \
                 OR (#status = :in_progress AND started_at < :stale)",
            )
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#ttl", keys::EXPIRES_AT)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":stale", n(now.saturating_sub(STALE_CLAIM_SECS)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(Claim::Claimed { lease }),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                    failed.item.clone().unwrap_or_default()
                }
                _ => return Err(err.into()),
            },
        };
        if get_s(&existing, "request_hash")? != request_hash {
            return Ok(Claim::Mismatch);
        }
        if get_s(&existing, "status")? != "completed" {
            return Ok(Claim::InProgress);
        }
        Ok(Claim::Replay {
            status: get_n(&existing, "response_status")?,
            body: get_s(&existing, "response_body")?.to_string(),
        })
    }

    async fn release(&self, user: &UserId, key_hash: &str, lease: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::idempotency::record(user, key_hash)))
            .condition_expression("lease = :lease")
            .expression_attribute_values(":lease", s(lease))
            .send()
            .await;
        match result {
            // Already taken over by someone else: theirs to finish.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn commit(
        &self,
        user: &UserId,
        key_hash: &str,
        lease: &str,
        order: &Order,
        cart_version: u64,
        promotion: Option<&Promotion>,
        response_body: &str,
    ) -> Result<Commit, StoreError> {
        let mut actions = Vec::with_capacity(order.items.len() + 6);
        for line in &order.items {
            let decrement = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::key(&line.sku)))
                    .update_expression("SET stock = stock - :qty")
                    .condition_expression("stock >= :qty AND attribute_not_exists(deleted_at)")
                    .expression_attribute_values(":qty", n(line.quantity.get()))
                    .build(),
            )?;
            actions.push(TransactWriteItem::builder().update(decrement).build());
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
        let clear_cart = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::cart::cart(user)))
                .condition_expression("version = :version")
                .expression_attribute_values(":version", n(cart_version))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().delete(clear_cart).build());
        let complete = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::idempotency::record(user, key_hash)))
                .update_expression(
                    "SET #status = :completed, response_status = :code, \
                     response_body = :body, order_id = :order",
                )
                .condition_expression("lease = :lease AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":completed", s("completed"))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .expression_attribute_values(":code", n(201))
                .expression_attribute_values(":body", s(response_body))
                .expression_attribute_values(":order", s(order.order_id.as_str()))
                .expression_attribute_values(":lease", s(lease))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().update(complete).build());
        let placed = Event::new(Change::order_became(
            OrderStatus::PendingPayment,
            OrderRef {
                order_id: order.order_id.clone(),
                user_id: user.clone(),
            },
        ));
        actions.push(outbox::put_action(&self.table, &placed)?);
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
        let lines = order.items.len();
        let short: Vec<Sku> = order
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| condition_failed(&codes, *i))
            .map(|(_, line)| line.sku.clone())
            .collect();
        Ok(if condition_failed(&codes, lines + 2) {
            Commit::LeaseLost
        } else if !short.is_empty() {
            Commit::OutOfStock(short)
        } else if condition_failed(&codes, lines + 1) {
            Commit::CartChanged
        } else if condition_failed(&codes, lines + 4) {
            Commit::PromotionExhausted
        } else if condition_failed(&codes, lines + 5) {
            Commit::PromotionAlreadyUsed
        } else {
            // The order's own condition (a fresh random id) cannot fail.
            return Err(StoreError::Dynamo(format!("checkout cancelled: {codes:?}")));
        })
    }
}
