//! Account erasure (GDPR art. 17, CCPA's right to delete).
//!
//! [`ErasureStore::begin`] is one transaction, so an erasure is either
//! not started or under way: the email guard, the profile and the email's
//! login-failure counter are deleted (the email can register again at
//! once, and no item holds it any more), the user is listed as revoked
//! (their access tokens are refused within seconds, `auth::revoked`), the
//! erasure's own record is written, and an `account.erased` event goes to
//! the outbox. Refresh tokens die with the profile: rotation checks it.
//!
//! The erasure worker then does the parts that grow with the account, each
//! of them safe to repeat: orders keep everything accounting needs but the
//! name and street address; the user's own partition (cart, notifications,
//! idempotency records) and the sign-up's idempotency records are deleted;
//! its login families are marked revoked; webhook bodies about its orders,
//! and the answers staff got for keyed refunds and shipments of them (kept
//! for replays under the staff member's partition, indexed under the
//! customer), have the address replaced. Promotion redemption markers stay: they name
//! the user id, which no longer leads to a person.

use std::future::Future;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::attr::{get_s, n, s};
use super::outbox::{self, Relay};
use super::{StoreError, User};
use crate::domain::ShippingAddress;
use crate::domain::{user::REVOCATION_KEEP_SECS, UserId};
use crate::events::{Change, ErasureId, Event};
use crate::keys::{self, Item};

/// What an erased order's address fields, and a webhook body's, become.
pub const ERASED: &str = "erased";

/// An erasure record is kept this long: proof that it happened, naming
/// only the (now meaningless) user id.
pub const RECORD_RETENTION_SECS: u64 = 90 * 24 * 3600;

pub use crate::domain::erasure::{Erasure, ErasureStatus};

pub trait ErasureStore: Send + Sync {
    /// The immediate part, in one transaction (see the module docs).
    /// `StoreError::NotFound` when the account is already gone.
    fn begin(
        &self,
        user: &User,
        id: &ErasureId,
        now: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get(
        &self,
        id: &ErasureId,
    ) -> impl Future<Output = Result<Option<Erasure>, StoreError>> + Send;

    /// Replaces the name and street address of every order of `user`;
    /// returns how many orders it changed.
    fn scrub_orders(&self, user: &UserId)
        -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Deletes every item of a partition (the user's own, or the sign-up's
    /// idempotency scope); returns how many.
    fn clear_partition(
        &self,
        partition: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Marks every login family of `user` revoked; returns how many.
    fn revoke_sessions(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Replaces the address in every stored staff answer about `user`'s
    /// orders (a keyed refund or shipment keeps its answer for 24 hours,
    /// under the staff member's partition); returns how many.
    fn scrub_answers(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Replaces the address in every webhook body about `user`'s orders.
    fn scrub_deliveries(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    fn complete(
        &self,
        id: &ErasureId,
        now: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoErasures {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoErasures {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            relay: None,
        }
    }

    /// The event then goes to the worker right after the commit; without a
    /// relay the outbox sweeper sends it after its grace period.
    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }

    fn delete(&self, key: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        if let Some(condition) = condition {
            delete = delete
                .condition_expression(condition)
                .expression_attribute_names("#pk", keys::PK);
        }
        let delete = super::built(delete.build())?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = super::built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn query_all(
        &self,
        index: Option<keys::Index>,
        partition: AttributeValue,
        projection: &str,
    ) -> Result<Vec<Item>, StoreError> {
        super::query_partition(
            &self.client,
            &self.table,
            index,
            partition,
            Some(projection),
        )
        .await
    }

    async fn update(
        &self,
        key: Item,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            // An item TTL removed meanwhile stays removed.
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK);
        // DynamoDB refuses names an expression does not use.
        if expression.contains("#status") {
            request = request.expression_attribute_names("#status", "status");
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        super::unless_condition_failed(request.send().await).map(|_| ())
    }
}

/// The key attributes of an item read with a projection.
fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == keys::PK || *name == keys::SK)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn erased_field() -> Result<crate::domain::address::AddressField, StoreError> {
    ERASED.to_string().try_into().map_err(StoreError::Corrupt)
}

/// The address with what locates the person replaced; the country and
/// region stay, because tax was charged by them.
pub fn erased_address(address: &ShippingAddress) -> Result<ShippingAddress, StoreError> {
    Ok(ShippingAddress {
        name: erased_field()?,
        line1: erased_field()?,
        line2: None,
        city: erased_field()?,
        postal_code: erased_field()?,
        country: address.country.clone(),
        region: address.region.clone(),
    })
}

/// The parts of an address in JSON that name or locate the person,
/// replaced as an erased order's are (country and region stay).
fn erase_address(address: &mut serde_json::Map<String, serde_json::Value>) {
    for part in ["name", "line1", "line2", "city", "postal_code"] {
        if let Some(text) = address.get_mut(part) {
            *text = serde_json::Value::String(ERASED.into());
        }
    }
}

/// A webhook body with its order's address erased, or `None` when it has
/// none (or is not JSON we wrote).
pub fn erased_payload(payload: &str) -> Option<String> {
    let mut body: serde_json::Value = serde_json::from_str(payload).ok()?;
    erase_address(
        body.pointer_mut("/data/order/shipping_address")?
            .as_object_mut()?,
    );
    serde_json::to_string(&body).ok()
}

/// A stored answer (an order, or a refund with its order) with every
/// `shipping_address` in it erased; `None` if it is not JSON.
pub fn erased_answer(body: &str) -> Option<String> {
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    match (name.as_str(), field.as_object_mut()) {
                        ("shipping_address", Some(address)) => erase_address(address),
                        _ => scrub(field),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut body: serde_json::Value = serde_json::from_str(body).ok()?;
    scrub(&mut body);
    serde_json::to_string(&body).ok()
}

impl ErasureStore for DynamoErasures {
    async fn begin(&self, user: &User, id: &ErasureId, now: &str) -> Result<(), StoreError> {
        let event = Event::new(Change::AccountErased {
            erasure_id: id.clone(),
            user_id: user.id.clone(),
            registration_scope: keys::idempotency::email_scope(&user.email),
        });
        let now_secs = crate::clock::now();
        let mut record = keys::account::erasure(id.as_str());
        record.extend([
            ("erasure_id".into(), s(id.as_str())),
            ("user_id".into(), s(user.id.as_str())),
            ("status".into(), s("in_progress")),
            ("requested_at".into(), s(now)),
            (keys::EXPIRES_AT.into(), n(now_secs + RECORD_RETENTION_SECS)),
        ]);
        let mut marker = keys::account::revoked(&user.id);
        marker.insert(keys::EXPIRES_AT.into(), n(now_secs + REVOCATION_KEEP_SECS));

        let guard = super::built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::account::email(&user.email)))
                .condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(user.id.as_str()))
                .build(),
        )?;
        let mut actions = vec![
            // The profile first: its condition failing means already erased.
            self.delete(keys::account::user(&user.id), Some("attribute_exists(#pk)"))?,
            TransactWriteItem::builder().delete(guard).build(),
            self.delete(keys::account::login_failures(&user.email), None)?,
            self.put(marker)?,
            self.put(record)?,
        ];
        actions.extend(outbox::put_actions(&self.table, &event)?);
        match super::transact(&self.client, actions).await? {
            Ok(()) => {}
            Err(codes)
                if super::condition_failed(&codes, 0) || super::condition_failed(&codes, 1) =>
            {
                return Err(StoreError::NotFound)
            }
            Err(_) => return Err(StoreError::ConditionFailed),
        }
        outbox::publish(self.relay.as_ref(), &event).await;
        Ok(())
    }

    async fn get(&self, id: &ErasureId) -> Result<Option<Erasure>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::account::erasure(id.as_str())))
            .send()
            .await?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let status = match get_s(&item, "status")? {
            "completed" => ErasureStatus::Completed,
            _ => ErasureStatus::InProgress,
        };
        Ok(Some(Erasure {
            id: id.clone(),
            status,
            requested_at: get_s(&item, "requested_at")?.to_string(),
            completed_at: get_s(&item, "completed_at").ok().map(str::to_string),
        }))
    }

    async fn scrub_orders(&self, user: &UserId) -> Result<usize, StoreError> {
        let orders = self
            .query_all(
                Some(keys::GSI1),
                keys::order::owner_partition(user),
                "pk, sk, shipping_address",
            )
            .await?;
        let mut changed = 0;
        for order in &orders {
            let address: ShippingAddress = serde_json::from_str(get_s(order, "shipping_address")?)
                .map_err(|e| StoreError::Corrupt(format!("order address: {e}")))?;
            if address.name.as_str() == ERASED && address.line1.as_str() == ERASED {
                continue;
            }
            let erased = serde_json::to_string(&erased_address(&address)?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.update(
                key_of(order),
                "SET shipping_address = :address",
                vec![(":address", s(erased))],
            )
            .await?;
            changed += 1;
        }
        Ok(changed)
    }

    async fn clear_partition(&self, partition: &str) -> Result<usize, StoreError> {
        let items = self.query_all(None, s(partition), "pk, sk").await?;
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let delete =
                        super::built(DeleteRequest::builder().set_key(Some(key_of(item))).build())?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StoreError>>()?;
            // Unprocessed deletes (throttling) are sent again, with a pause.
            for attempt in 0..8u64 {
                if requests.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Dynamo(
                    "batch delete left items unprocessed".into(),
                ));
            }
        }
        Ok(items.len())
    }

    async fn revoke_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        let families = self
            .query_all(
                Some(keys::GSI1),
                keys::session::owner_partition(user),
                "pk, sk",
            )
            .await?;
        for family in &families {
            self.update(
                key_of(family),
                "SET revoked = :yes",
                vec![(":yes", AttributeValue::Bool(true))],
            )
            .await?;
        }
        Ok(families.len())
    }

    async fn scrub_deliveries(&self, user: &UserId) -> Result<usize, StoreError> {
        let deliveries = self
            .query_all(
                Some(keys::GSI2),
                keys::webhook::customer_partition(user),
                "pk, sk, payload",
            )
            .await?;
        let mut changed = 0;
        for delivery in &deliveries {
            let Some(erased) = erased_payload(get_s(delivery, "payload")?) else {
                continue;
            };
            if erased == get_s(delivery, "payload")? {
                continue;
            }
            self.update(
                key_of(delivery),
                "SET payload = :payload",
                vec![(":payload", s(erased))],
            )
            .await?;
            changed += 1;
        }
        Ok(changed)
    }

    async fn scrub_answers(&self, user: &UserId) -> Result<usize, StoreError> {
        let answers = self
            .query_all(
                Some(keys::GSI2),
                keys::idempotency::about_partition(user),
                "pk, sk, response_body",
            )
            .await?;
        for answer in &answers {
            let body = erased_answer(get_s(answer, "response_body")?)
                .unwrap_or_else(|| ERASED.to_string());
            // Out of the index too: done once, not again on a retry.
            self.update(
                key_of(answer),
                &format!(
                    "SET response_body = :body REMOVE {}, {}",
                    keys::GSI2.pk,
                    keys::GSI2.sk
                ),
                vec![(":body", s(body))],
            )
            .await?;
        }
        Ok(answers.len())
    }

    async fn complete(&self, id: &ErasureId, now: &str) -> Result<(), StoreError> {
        self.update(
            keys::account::erasure(id.as_str()),
            "SET #status = :done, completed_at = if_not_exists(completed_at, :now)",
            vec![(":done", s("completed")), (":now", s(now))],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_body_keeps_everything_but_the_address() {
        let body = r#"{"type":"order.paid","data":{"customer_id":"usr_1","order":{"order_id":"ord_1","shipping_address":{"name":"Ada Lovelace","line1":"12 St James's Square","city":"London","postal_code":"SW1Y 4JH","country":"GB"},"total":{"amount":100,"currency":"GBP"}}}}"#;
        let erased = erased_payload(body).expect("has an address");
        for gone in ["Ada", "James", "London", "SW1Y"] {
            assert!(!erased.contains(gone), "{gone} in {erased}");
        }
        for kept in [
            "order.paid",
            "ord_1",
            "\"country\":\"GB\"",
            "\"amount\":100",
        ] {
            assert!(erased.contains(kept), "{kept} not in {erased}");
        }
        assert_eq!(erased_payload(r#"{"type":"x"}"#), None);
        assert_eq!(erased_payload("not json"), None);
    }

    #[test]
    fn a_stored_answer_keeps_everything_but_the_addresses() {
        let refund = r#"{"refund":{"refund_id":"rfd_1","amount":{"amount":100,"currency":"GBP"}},"order":{"order_id":"ord_1","shipping_address":{"name":"Ada Lovelace","line1":"12 St James's Square","city":"London","postal_code":"SW1Y 4JH","country":"GB"}}}"#;
        let erased = erased_answer(refund).expect("json");
        for gone in ["Ada", "James", "London", "SW1Y"] {
            assert!(!erased.contains(gone), "{gone} in {erased}");
        }
        for kept in ["rfd_1", "ord_1", "\"country\":\"GB\"", "\"amount\":100"] {
            assert!(erased.contains(kept), "{kept} not in {erased}");
        }
        let shipped = r#"{"order_id":"ord_1","shipping_address":{"name":"Ada","line1":"x","city":"y","postal_code":"z","country":"GB"}}"#;
        assert!(!erased_answer(shipped).expect("json").contains("Ada"));
        assert_eq!(erased_answer("not json"), None);
    }
}
