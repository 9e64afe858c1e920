//! The DynamoDB key schema: the only module that spells a key.
//!
//! One table (`pk`/`sk`), two overloaded GSIs. `template.yaml` declares the
//! same attribute and index names; the local stack creates the table from the
//! template, so an integration test that queries an index here fails if the
//! two drift apart.
//!
//! | item          | pk                 | sk        | gsi1 (pk / sk)                | gsi2 (pk / sk)                        |
//! |---------------|--------------------|-----------|-------------------------------|---------------------------------------|
//! | live product  | `PRODUCT#<sku>`    | `PRODUCT` | `CATALOG` / `PRODUCT#<sku>`   | `CATEGORY#<category>` / `PRODUCT#<sku>` |
//! | deleted product | same             | same      | (removed: sparse)             | (removed: sparse)                     |
//! | stock shard   | `PRODUCT#<sku>#SHARD#<nn>` | `SHARD` |                       |                                       |
//! | sharded SKU   | `SHARDED`          | `<sku>`   |                               |                                       |
//! | cart          | `USER#<id>`        | `CART`    |                               |                                       |
//! | idempotency   | `USER#<id>`        | `IDEMPOTENCY#<sha256(key)>` |             | `IDEMPOTENCY_ABOUT#<customer>` / `<scope>#<sk>` (staff answers about a customer's order) |
//! | order         | `ORDER#<id>`       | `ORDER`   | `ORDERS#<user>` / `<ms>#<id>` | `ORDER_STATUS#<status>` / `<ms>#<id>` |
//! | user          | `USER#<id>`        | `PROFILE` |                               |                                       |
//! | email guard   | `EMAIL#<email>`    | `EMAIL`   |                               |                                       |
//! | login failures| `LOGINFAIL#<sha256(email)>`| `LOGINFAIL` |                     |                                       |
//! | revoked user  | `REVOKED`          | `<user id>` |                             |                                       |
//! | erasure       | `ERASURE#<id>`     | `ERASURE` |                               |                                       |
//! | payment event | `PAYMENT_EVENT#<id>` | `EVENT` |                              |                                       |
//! | token family  | `FAMILY#<id>`      | `FAMILY`  | `SESSIONS#<user>` / `<s, 10 digits>#<id>` |                     |
//! | refresh token | `REFRESH#<sha256>` | `REFRESH` |                               |                                       |
//! | outbox event  | `OUTBOX#<event id>` | `OUTBOX#<topic>` | `OUTBOX` / `<ms>#<event id>#<topic>` (sparse) |                |
//! | webhook endpoint | `WEBHOOKS`      | `ENDPOINT#<id>` |                         |                                       |
//! | webhook delivery | `WEBHOOK#<endpoint>` | `DELIVERY#<event id>` |          | `DELIVERIES#<user>` / `<endpoint>#<event id>` (order events) |
//! | notification  | `USER#<id>`        | `NOTIFICATION#<event id>` |             |                                       |
//! | report job    | `REPORT#<job id>`  | `REPORT`  |                               |                                       |
//! | promotion     | `PROMO#<code>`     | `PROMO`   | `PROMOTIONS` / `<code>` (removed on delete) |                         |
//! | redemption    | `PROMO#<code>`     | `REDEEMED#<user>` |                       |                                       |
//! | tax rates     | `TAX#<country>`    | `RATES`   |                               |                                       |
//! | search log    | `SEARCH#LOG`       | `<ms, 13 digits>#<sku>` |                 |                                       |
//!
//! An outbox event stays until its consumer has applied it; its index entry
//! is when the relay should next (re)send it, so the sweeper reads only what
//! is due. A notification's key is the (time-ordered) id of the event that
//! caused it, so a redelivered event finds its notification already written.
//!
//! A promotion's redemption counter lives on its own item, so the checkout
//! transaction can condition on it (`redemptions < max`); a once-per-customer
//! code also gets a redemption item per customer, written in that same
//! transaction on condition it does not exist, and removed with the counter's
//! decrement when the order is cancelled or expires.
//!
//! A hot SKU's stock shards each have their own partition key: items that
//! share one live in one partition, which is the write ceiling sharding is
//! there to get past. `SHARDED` lists the SKUs whose shards may hold units,
//! for the rebalancer (a handful at a time: one small partition).
//!
//! The email guard makes emails unique (written in the same transaction as
//! the user, conditional on not existing) and carries what login needs
//! (user id, role, password hash), so login is one read. Refresh tokens are
//! stored only as their SHA-256.
//! Soft-deleted products drop their GSI attributes, so listings never see
//! them and need no filter (a filter would still pay for the read).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{Category, Sku};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

/// A global secondary index and its key attribute names.
#[derive(Debug, Clone, Copy)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

pub const GSI1: Index = Index {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
};

pub const GSI2: Index = Index {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub mod product {
    use super::*;

    const SK_VALUE: &str = "PRODUCT";
    const CATALOG: &str = "CATALOG";

    fn pk(sku: &Sku) -> String {
        format!("PRODUCT#{sku}")
    }

    fn sort(sku: &Sku) -> String {
        format!("PRODUCT#{sku}")
    }

    fn category_pk(category: &Category) -> String {
        format!("CATEGORY#{}", category.as_str())
    }

    /// The primary key of a product item.
    pub fn key(sku: &Sku) -> Item {
        HashMap::from([(PK.into(), s(pk(sku))), (SK.into(), s(SK_VALUE))])
    }

    /// Primary key plus the index attributes that make a product listable.
    pub fn listed_key(sku: &Sku, category: &Category) -> Item {
        let mut item = key(sku);
        item.insert(GSI1.pk.into(), s(CATALOG));
        item.insert(GSI1.sk.into(), s(sort(sku)));
        item.insert(GSI2.pk.into(), s(category_pk(category)));
        item.insert(GSI2.sk.into(), s(sort(sku)));
        item
    }

    /// The category index attribute, for moving a product between categories.
    pub fn category_partition(category: &Category) -> (&'static str, AttributeValue) {
        (GSI2.pk, s(category_pk(category)))
    }

    /// Stock shard `i` of a SKU (domain::stock): its own partition.
    pub fn shard(sku: &Sku, i: u8) -> Item {
        single(format!("PRODUCT#{sku}#SHARD#{i:02}"), "SHARD")
    }

    const SHARDED: &str = "SHARDED";

    /// The entry that makes the rebalancer look at a sharded SKU.
    pub fn sharded(sku: &Sku) -> Item {
        single(SHARDED.into(), sku.as_str())
    }

    /// The partition listing the sharded SKUs (sort key: the SKU).
    pub fn sharded_partition() -> AttributeValue {
        s(SHARDED)
    }

    /// The index attributes a soft delete removes, making listings skip it.
    pub const LISTING_ATTRIBUTES: [&str; 4] = [GSI1.pk, GSI1.sk, GSI2.pk, GSI2.sk];

    /// Which index a listing reads and its partition value.
    pub fn listing(category: Option<&Category>) -> (Index, AttributeValue) {
        match category {
            Some(category) => (GSI2, s(category_pk(category))),
            None => (GSI1, s(CATALOG)),
        }
    }

    /// `ExclusiveStartKey` that resumes a listing right after `sku`.
    pub fn resume_after(sku: &Sku, category: Option<&Category>) -> Item {
        let mut start = key(sku);
        let (index, partition) = listing(category);
        start.insert(index.pk.into(), partition);
        start.insert(index.sk.into(), s(sort(sku)));
        start
    }
}

/// One item per key: `pk` plus a fixed `sk`.
fn single(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.into(), s(pk)), (SK.into(), s(sk))])
}

pub mod account {
    use super::*;
    use crate::domain::{Email, UserId};

    pub fn user(id: &UserId) -> Item {
        single(format!("USER#{}", id.as_str()), "PROFILE")
    }

    pub fn email(email: &Email) -> Item {
        single(format!("EMAIL#{}", email.as_str()), "EMAIL")
    }

    /// Failed logins for an email, by its SHA-256: anyone can type any
    /// email at login, and the table should not keep what they typed.
    pub fn login_failures(email: &Email) -> Item {
        single(
            format!(
                "LOGINFAIL#{}",
                quiet_support::encoding::sha256_hex(email.as_str().as_bytes())
            ),
            "LOGINFAIL",
        )
    }

    /// Users whose access tokens are refused (erased accounts), one small
    /// partition every function instance reads whole.
    pub fn revoked_partition() -> AttributeValue {
        s("REVOKED")
    }

    pub fn revoked(user: &UserId) -> Item {
        HashMap::from([
            (PK.into(), revoked_partition()),
            (SK.into(), s(user.as_str())),
        ])
    }

    /// Every item keyed under the user: profile, cart, notifications and
    /// idempotency records. As text: the erasure store clears a partition
    /// by its key.
    pub fn user_partition(id: &UserId) -> String {
        format!("USER#{}", id.as_str())
    }

    /// An erasure request and its progress, by its id (the only thing
    /// left that its former owner can ask about).
    pub fn erasure(id: &str) -> Item {
        single(format!("ERASURE#{id}"), "ERASURE")
    }
}

pub mod cart {
    use super::*;
    use crate::domain::UserId;

    /// A user's cart: one small document, read and written whole.
    pub fn cart(user: &UserId) -> Item {
        single(format!("USER#{}", user.as_str()), "CART")
    }
}

pub mod order {
    use super::*;
    use crate::domain::UserId;
    use crate::domain::{OrderId, OrderStatus};

    pub fn key(id: &OrderId) -> Item {
        single(format!("ORDER#{id}"), "ORDER")
    }

    /// Sort key shared by both order indexes: creation time in zero-padded
    /// epoch milliseconds (RFC 3339 strings with variable fractions do not
    /// sort), then the id to break ties.
    fn sort(created_ms: u64, id: &OrderId) -> AttributeValue {
        s(format!("{created_ms:013}#{id}"))
    }

    /// A bound on both order indexes' sort keys: every entry created
    /// before `ms` sorts below it, every entry created at or after above.
    pub fn created_bound(ms: u64) -> AttributeValue {
        s(format!("{ms:013}"))
    }

    pub fn owner_partition(user: &UserId) -> AttributeValue {
        s(format!("ORDERS#{}", user.as_str()))
    }

    pub fn status_partition(status: OrderStatus) -> AttributeValue {
        s(format!("ORDER_STATUS#{}", status.as_str()))
    }

    /// Primary key plus both index entries (by owner, by status).
    pub fn indexed_key(id: &OrderId, user: &UserId, status: OrderStatus, created_ms: u64) -> Item {
        let mut item = key(id);
        item.insert(GSI1.pk.into(), owner_partition(user));
        item.insert(GSI1.sk.into(), sort(created_ms, id));
        item.insert(GSI2.pk.into(), status_partition(status));
        item.insert(GSI2.sk.into(), sort(created_ms, id));
        item
    }

    /// `ExclusiveStartKey` resuming an owner's or a status listing.
    pub fn resume_after(
        id: &OrderId,
        created_ms: u64,
        index: Index,
        partition: AttributeValue,
    ) -> Item {
        let mut start = key(id);
        start.insert(index.pk.into(), partition);
        start.insert(index.sk.into(), sort(created_ms, id));
        start
    }
}

pub mod payment {
    use super::*;

    /// A provider event we have processed: its existence makes a repeat a
    /// no-op.
    pub fn event(id: &str) -> Item {
        single(format!("PAYMENT_EVENT#{id}"), "EVENT")
    }
}

pub mod outbox {
    use super::*;
    use crate::events::{EventId, Topic};

    /// The sweeper's index partition. One partition: outbox items live
    /// seconds, so it holds only what is in flight or stuck.
    const DUE: &str = "OUTBOX";

    /// One item per consumer of the event, so each acknowledges its own.
    pub fn key(id: &EventId, topic: Topic) -> Item {
        single(
            format!("OUTBOX#{id}"),
            &format!("OUTBOX#{}", topic.as_str()),
        )
    }

    fn due_sort(due_ms: u64, id: &EventId, topic: Topic) -> AttributeValue {
        s(format!("{due_ms:013}#{id}#{}", topic.as_str()))
    }

    /// Key plus the index entry that makes the sweeper send it at `due_ms`.
    pub fn pending(id: &EventId, topic: Topic, due_ms: u64) -> Item {
        let mut item = key(id, topic);
        item.insert(GSI1.pk.into(), s(DUE));
        item.insert(GSI1.sk.into(), due_sort(due_ms, id, topic));
        item
    }

    /// The new index sort value after a resend, for an `UpdateItem`.
    pub fn due_at(id: &EventId, topic: Topic, due_ms: u64) -> (&'static str, AttributeValue) {
        (GSI1.sk, due_sort(due_ms, id, topic))
    }

    pub fn due_partition() -> AttributeValue {
        s(DUE)
    }

    /// Upper bound (exclusive) of index sort values due by `now_ms`.
    pub fn due_before(now_ms: u64) -> AttributeValue {
        s(format!("{:013}", now_ms.saturating_add(1)))
    }
}

pub mod webhook {
    use super::*;
    use crate::domain::UserId;
    use crate::events::{EndpointId, EventId};

    const ENDPOINTS: &str = "WEBHOOKS";
    const ENDPOINT: &str = "ENDPOINT#";
    const DELIVERY: &str = "DELIVERY#";

    /// Every endpoint in one partition: a shop has a handful, and the
    /// webhooks worker reads them all for each event in one Query.
    pub fn endpoint(id: &EndpointId) -> Item {
        single(ENDPOINTS.into(), &format!("{ENDPOINT}{id}"))
    }

    /// `(pk value, sk prefix)` of the endpoints.
    pub fn endpoints() -> (AttributeValue, AttributeValue) {
        (s(ENDPOINTS), s(ENDPOINT))
    }

    /// gsi2 `(pk, sk)` of a delivery whose body is about `user`'s order.
    pub fn by_customer(
        user: &UserId,
        endpoint: &EndpointId,
        event: &EventId,
    ) -> (AttributeValue, AttributeValue) {
        (customer_partition(user), s(format!("{endpoint}#{event}")))
    }

    pub fn customer_partition(user: &UserId) -> AttributeValue {
        s(format!("DELIVERIES#{}", user.as_str()))
    }

    fn deliveries_partition(endpoint: &EndpointId) -> String {
        format!("WEBHOOK#{endpoint}")
    }

    /// An event's delivery to one endpoint, keyed by the (time-ordered)
    /// event id: newest first is a backwards Query.
    pub fn delivery(endpoint: &EndpointId, event: &EventId) -> Item {
        single(
            deliveries_partition(endpoint),
            &format!("{DELIVERY}{event}"),
        )
    }

    /// `(pk value, sk prefix)` of an endpoint's deliveries.
    pub fn deliveries(endpoint: &EndpointId) -> (AttributeValue, AttributeValue) {
        (s(deliveries_partition(endpoint)), s(DELIVERY))
    }
}

pub mod notification {
    use super::*;
    use crate::domain::UserId;
    use crate::events::EventId;

    const PREFIX: &str = "NOTIFICATION#";

    fn partition(user: &UserId) -> String {
        format!("USER#{}", user.as_str())
    }

    /// Keyed by the event that caused it (event ids sort by time), so a
    /// redelivered event finds its notification already written.
    pub fn key(user: &UserId, event: &EventId) -> Item {
        single(partition(user), &format!("{PREFIX}{event}"))
    }

    /// `(pk value, sk prefix)` of a user's notifications.
    pub fn listing(user: &UserId) -> (AttributeValue, AttributeValue) {
        (s(partition(user)), s(PREFIX))
    }
}

pub mod report {
    use super::*;
    use crate::events::JobId;

    pub fn job(id: &JobId) -> Item {
        single(format!("REPORT#{id}"), "REPORT")
    }
}

pub mod promotion {
    use super::*;
    use crate::domain::promotion::PromoCode;
    use crate::domain::UserId;

    const LISTED: &str = "PROMOTIONS";

    fn pk(code: &PromoCode) -> String {
        format!("PROMO#{code}")
    }

    pub fn key(code: &PromoCode) -> Item {
        single(pk(code), "PROMO")
    }

    /// Primary key plus the index entry that lists it (codes in order).
    pub fn listed_key(code: &PromoCode) -> Item {
        let mut item = key(code);
        item.insert(GSI1.pk.into(), s(LISTED));
        item.insert(GSI1.sk.into(), s(code.as_str()));
        item
    }

    /// The index attributes a delete removes.
    pub const LISTING_ATTRIBUTES: [&str; 2] = [GSI1.pk, GSI1.sk];

    pub fn listing() -> (Index, AttributeValue) {
        (GSI1, s(LISTED))
    }

    /// `ExclusiveStartKey` that resumes the listing right after `code`.
    pub fn resume_after(code: &PromoCode) -> Item {
        listed_key(code)
    }

    /// That `user` has redeemed a once-per-customer `code`.
    pub fn redemption(code: &PromoCode, user: &UserId) -> Item {
        single(pk(code), &format!("REDEEMED#{}", user.as_str()))
    }
}

pub mod tax {
    use super::*;
    use crate::domain::address::Country;

    /// A destination country's tax rates (one item: its rate and regions').
    pub fn rates(country: &Country) -> Item {
        single(format!("TAX#{}", country.as_str()), "RATES")
    }
}

/// The search index's change log: a product's searchable state as the
/// indexer read it, in the order it read it (store::search).
pub mod search {
    use super::*;

    const LOG: &str = "SEARCH#LOG";

    pub fn log_entry(at_ms: u64, sku: &Sku) -> Item {
        single(LOG.into(), &format!("{at_ms:013}#{sku}"))
    }

    pub fn log_partition() -> AttributeValue {
        s(LOG)
    }

    /// A sort key bound: every entry written at or after `at_ms` sorts above it.
    pub fn log_from(at_ms: u64) -> AttributeValue {
        s(format!("{at_ms:013}#"))
    }
}

pub mod rate {
    use super::*;

    /// A client's request counter for one window of one route class.
    pub fn window(class: &str, client: &str, index: u64) -> Item {
        single(format!("RATE#{class}#{client}"), &format!("W#{index}"))
    }
}

pub mod idempotency {
    use super::*;
    use crate::domain::{Email, UserId};
    use quiet_support::encoding::sha256_hex;

    /// A signed-in caller's keys live beside its profile.
    pub fn user_scope(user: &UserId) -> String {
        format!("USER#{}", user.as_str())
    }

    /// A registering caller's keys, by the email it registers (hashed: the
    /// partition is not a directory of addresses).
    pub fn email_scope(email: &Email) -> String {
        format!("REGISTERING#{}", sha256_hex(email.as_str().as_bytes()))
    }

    /// An idempotency record in its scope. The client's key is hashed: any
    /// 1..=255 characters make a valid, bounded key.
    pub fn record(scope: &str, key_hash: &str) -> Item {
        single(scope.to_string(), &format!("IDEMPOTENCY#{key_hash}"))
    }

    /// The GSI2 partition of the records whose stored answer is about a
    /// customer other than the caller (staff refunding or shipping their
    /// order): erasure finds them here and scrubs the address.
    pub fn about_partition(user: &UserId) -> AttributeValue {
        AttributeValue::S(format!("IDEMPOTENCY_ABOUT#{}", user.as_str()))
    }
}

pub mod session {
    use super::*;
    use crate::domain::UserId;

    /// A refresh-token family: every token rotated from one login.
    pub fn family(id: &str) -> Item {
        single(format!("FAMILY#{id}"), "FAMILY")
    }

    /// A user's families on gsi1, oldest login first: what an export
    /// lists and an erasure revokes.
    pub fn owner_partition(user: &UserId) -> AttributeValue {
        s(format!("SESSIONS#{}", user.as_str()))
    }

    /// A family with its index entry under its user.
    pub fn indexed_family(id: &str, user: &UserId, started_secs: u64) -> Item {
        let mut item = family(id);
        item.insert(GSI1.pk.into(), owner_partition(user));
        item.insert(GSI1.sk.into(), s(format!("{started_secs:010}#{id}")));
        item
    }

    /// A refresh token, by the hex SHA-256 of its value.
    pub fn refresh_token(hash: &str) -> Item {
        single(format!("REFRESH#{hash}"), "REFRESH")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku() -> Sku {
        Sku::try_from("TEA-001".to_string()).expect("valid")
    }

    #[test]
    fn resume_key_matches_the_listed_item_on_the_index_it_reads() {
        let category = Category::try_from("tea".to_string()).expect("valid");
        let listed = product::listed_key(&sku(), &category);
        for cat in [None, Some(&category)] {
            let start = product::resume_after(&sku(), cat);
            let (index, _) = product::listing(cat);
            for attr in [PK, SK, index.pk, index.sk] {
                assert_eq!(start.get(attr), listed.get(attr), "{attr}");
            }
        }
    }
}
