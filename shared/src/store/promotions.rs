//! Promotions: discount codes as staff manage them, and the transaction
//! actions that redeem a code at checkout and give it back on cancel or
//! expiry.
//!
//! A limit is never enforced by reading and then writing: checkout's one
//! transaction increments the code's counter on condition it is still under
//! `max_redemptions` (and that the rules are the version checkout priced
//! with), and for a once-per-customer code writes a (code, customer) item on
//! condition it does not exist. Cancel and expiry undo both inside the
//! transition that returns the stock, which runs at most once per order.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{Delete, Put, ReturnValue, TransactWriteItem, Update},
    Client,
};
use serde::{Deserialize, Deserializer};

use super::attr::{get_n, get_s, n, s};
use super::StoreError;
use crate::domain::UserId;
use crate::domain::{
    promotion::{Instant, PromoCode, RedemptionLimit, Reward, Rules, Scope},
    Money, PageLimit,
};
use crate::keys::{self, Item};

pub use crate::domain::promotion::Promotion;

/// `Some(None)` for an explicit `null` (clear), `Some(Some(v))` for a value,
/// `None` (by `default`) when the field is absent.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// A rules edit: each field present is replaced; `null` clears an optional
/// one. The code, redemptions and version cannot be edited (422).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionPatch {
    pub discount: Option<Reward>,
    #[serde(default, deserialize_with = "nullable")]
    pub min_subtotal: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Option<Instant>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Option<Instant>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000000)]
    pub max_redemptions: Option<Option<RedemptionLimit>>,
    pub once_per_customer: Option<bool>,
    pub scope: Option<Scope>,
}

impl PromotionPatch {
    pub fn is_empty(&self) -> bool {
        self.discount.is_none()
            && self.min_subtotal.is_none()
            && self.starts_at.is_none()
            && self.ends_at.is_none()
            && self.max_redemptions.is_none()
            && self.once_per_customer.is_none()
            && self.scope.is_none()
    }

    /// The rules with this edit applied.
    pub fn apply(&self, rules: &Rules) -> Rules {
        let mut next = rules.clone();
        if let Some(discount) = self.discount {
            next.discount = discount;
        }
        if let Some(value) = self.min_subtotal {
            next.min_subtotal = value;
        }
        if let Some(value) = self.starts_at {
            next.starts_at = value;
        }
        if let Some(value) = self.ends_at {
            next.ends_at = value;
        }
        if let Some(value) = self.max_redemptions {
            next.max_redemptions = value;
        }
        if let Some(value) = self.once_per_customer {
            next.once_per_customer = value;
        }
        if let Some(scope) = &self.scope {
            next.scope = scope.clone();
        }
        next
    }
}

/// One page of promotions, in code order; `last` when more may follow.
#[derive(Debug)]
pub struct PromotionPage {
    pub items: Vec<Promotion>,
    pub last: Option<PromoCode>,
}

pub trait PromotionStore: Send + Sync {
    /// `AlreadyExists` if the code was ever used (deleted codes stay
    /// reserved, so an old order's code always means one promotion).
    fn create(
        &self,
        new: &Rules,
        now: &str,
    ) -> impl Future<Output = Result<Promotion, StoreError>> + Send;

    /// A live promotion; deleted and unknown codes are both `None`.
    fn get(
        &self,
        code: &PromoCode,
    ) -> impl Future<Output = Result<Option<Promotion>, StoreError>> + Send;

    fn list(
        &self,
        limit: PageLimit,
        after: Option<&PromoCode>,
    ) -> impl Future<Output = Result<PromotionPage, StoreError>> + Send;

    /// Replaces the rules if the promotion is live and still at `version`;
    /// `NotFound` / `ConditionFailed` otherwise. The counter is untouched.
    fn replace_rules(
        &self,
        code: &PromoCode,
        version: u64,
        rules: &Rules,
        now: &str,
    ) -> impl Future<Output = Result<Promotion, StoreError>> + Send;

    /// Soft delete: unusable and unlisted from now on; orders that used it
    /// keep their discount and can still give their redemption back.
    fn delete(
        &self,
        code: &PromoCode,
        now: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether `user` holds a redemption of `code` (once-per-customer).
    fn redeemed_by(
        &self,
        code: &PromoCode,
        user: &UserId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoPromotions {
    client: Client,
    table: String,
}

impl DynamoPromotions {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn rules_json(rules: &Rules) -> Result<String, StoreError> {
    serde_json::to_string(rules).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_item(promotion: &Promotion) -> Result<Item, StoreError> {
    let mut item = keys::promotion::listed_key(promotion.code());
    item.extend([
        ("code".into(), s(promotion.code().as_str())),
        ("rules".into(), s(rules_json(&promotion.rules)?)),
        ("redemptions".into(), n(promotion.redemptions)),
        ("version".into(), n(promotion.version)),
        ("created_at".into(), s(&promotion.created_at)),
        ("updated_at".into(), s(&promotion.updated_at)),
    ]);
    if let Some(max) = promotion.rules.max_redemptions {
        item.insert("max_redemptions".into(), n(max.get()));
    }
    Ok(item)
}

fn from_item(item: &Item) -> Result<Promotion, StoreError> {
    Ok(Promotion {
        rules: serde_json::from_str(get_s(item, "rules")?)
            .map_err(|_| StoreError::Corrupt("promotion rules do not decode".into()))?,
        // Cancellations give back what checkouts took, so the counter never
        // goes below zero; clamp anyway rather than fail a read.
        redemptions: get_n::<i64>(item, "redemptions")?.max(0) as u32,
        version: get_n(item, "version")?,
        created_at: get_s(item, "created_at")?.to_string(),
        updated_at: get_s(item, "updated_at")?.to_string(),
    })
}

/// A stored promotion item as a live promotion; `None` when deleted.
pub(crate) fn decode_promotion(item: &Item) -> Result<Option<Promotion>, StoreError> {
    if super::is_live(item) {
        from_item(item).map(Some)
    } else {
        Ok(None)
    }
}

impl PromotionStore for DynamoPromotions {
    async fn create(&self, new: &Rules, now: &str) -> Result<Promotion, StoreError> {
        let promotion = Promotion {
            rules: new.clone(),
            redemptions: 0,
            version: 1,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        };
        if super::put_if_absent(&self.client, &self.table, to_item(&promotion)?).await? {
            Ok(promotion)
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn get(&self, code: &PromoCode) -> Result<Option<Promotion>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::promotion::key(code)))
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .as_ref()
            .map(decode_promotion)
            .transpose()
            .map(Option::flatten)
    }

    async fn list(
        &self,
        limit: PageLimit,
        after: Option<&PromoCode>,
    ) -> Result<PromotionPage, StoreError> {
        let (index, partition) = keys::promotion::listing();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", partition)
            .set_exclusive_start_key(after.map(keys::promotion::resume_after))
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let last = out
            .last_evaluated_key
            .and(items.last().map(|p| p.code().clone()));
        Ok(PromotionPage { items, last })
    }

    async fn replace_rules(
        &self,
        code: &PromoCode,
        version: u64,
        rules: &Rules,
        now: &str,
    ) -> Result<Promotion, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::promotion::key(code)))
            .condition_expression(format!("{} AND version = :expected", super::LIVE))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":expected", n(version))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":rules", s(rules_json(rules)?))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        let sets = "SET #rules = :rules, version = version + :one, updated_at = :now";
        request = request.expression_attribute_names("#rules", "rules");
        request = match rules.max_redemptions {
            Some(max) => request
                .update_expression(format!("{sets}, max_redemptions = :max"))
                .expression_attribute_values(":max", n(max.get())),
            None => request.update_expression(format!("{sets} REMOVE max_redemptions")),
        };
        from_item(&super::updated_live_item(request.send().await)?)
    }

    async fn delete(&self, code: &PromoCode, now: &str) -> Result<(), StoreError> {
        super::soft_delete(
            &self.client,
            &self.table,
            keys::promotion::key(code),
            &keys::promotion::LISTING_ATTRIBUTES,
            now,
        )
        .await
    }

    async fn redeemed_by(&self, code: &PromoCode, user: &UserId) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::promotion::redemption(code, user)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.is_some_and(|item| !item.is_empty()))
    }
}

/// The transaction actions that redeem `promotion` for `user`'s order:
/// first the counter (under its limit, at the version priced with, still
/// live), then for a once-per-customer code the customer's redemption
/// item (absent until now). Checkout tells them apart by position.
pub(crate) fn redeem_actions(
    table: &str,
    promotion: &Promotion,
    user: &UserId,
    order_id: &str,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut condition = format!("{} AND version = :version", super::LIVE);
    let mut counter = Update::builder()
        .table_name(table)
        .set_key(Some(keys::promotion::key(promotion.code())))
        .update_expression("ADD redemptions :one")
        .expression_attribute_names("#pk", keys::PK)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":version", n(promotion.version));
    if promotion.rules.max_redemptions.is_some() {
        condition.push_str(" AND redemptions < max_redemptions");
    }
    counter = counter.condition_expression(condition);
    let mut actions = vec![TransactWriteItem::builder()
        .update(super::built(counter.build())?)
        .build()];
    if promotion.rules.once_per_customer {
        let mut item = keys::promotion::redemption(promotion.code(), user);
        item.insert("order_id".into(), s(order_id));
        let marker = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK);
        actions.push(
            TransactWriteItem::builder()
                .put(super::built(marker.build())?)
                .build(),
        );
    }
    Ok(actions)
}

/// Gives an order's redemption back: the counter down by one and, if it
/// wrote one, the customer's redemption item removed. Joined to the order's
/// `pending_payment → cancelled | expired` transition, so at most once.
pub(crate) fn return_actions(
    table: &str,
    code: &PromoCode,
    user: &UserId,
    once_per_customer: bool,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    // Codes are only ever soft-deleted, so the item exists; the condition
    // keeps a bug from creating a stray counter.
    let counter = Update::builder()
        .table_name(table)
        .set_key(Some(keys::promotion::key(code)))
        .update_expression("ADD redemptions :minus_one")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", keys::PK)
        .expression_attribute_values(":minus_one", n(-1));
    let mut actions = vec![TransactWriteItem::builder()
        .update(super::built(counter.build())?)
        .build()];
    if once_per_customer {
        let marker = Delete::builder()
            .table_name(table)
            .set_key(Some(keys::promotion::redemption(code, user)));
        actions.push(
            TransactWriteItem::builder()
                .delete(super::built(marker.build())?)
                .build(),
        );
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn promotion() -> Promotion {
        let rules: Rules = serde_json::from_value(json!({
            "code": "winter-25", "discount": {"kind": "percent", "percent": 25},
            "min_subtotal": {"amount": 1000, "currency": "USD"},
            "ends_at": "2027-01-01T00:00:00Z", "max_redemptions": 3,
            "once_per_customer": true, "scope": {"categories": ["tea"]}
        }))
        .expect("valid promotion");
        Promotion {
            rules,
            redemptions: 2,
            version: 4,
            created_at: "2026-12-01T00:00:00Z".into(),
            updated_at: "2026-12-02T00:00:00Z".into(),
        }
    }

    #[test]
    fn item_round_trips_exactly() {
        let original = promotion();
        assert_eq!(original.code().as_str(), "WINTER-25");
        assert_eq!(
            from_item(&to_item(&original).expect("encodes")).expect("decodes"),
            original
        );
    }

    #[test]
    fn a_new_promotion_rejects_server_owned_and_unknown_fields() {
        for field in ["redemptions", "version", "created_at", "percent", "id"] {
            let mut body = json!({"code": "ABC", "discount": {"kind": "percent", "percent": 5}});
            body[field] = json!(1);
            assert!(serde_json::from_value::<Rules>(body).is_err(), "{field}");
        }
    }

    #[test]
    fn patch_sets_clears_and_keeps() {
        let before = promotion().rules;
        let patch: PromotionPatch = serde_json::from_value(
            json!({"max_redemptions": null, "ends_at": "2027-02-01T00:00:00Z"}),
        )
        .expect("valid patch");
        let after = patch.apply(&before);
        assert_eq!(after.max_redemptions, None);
        assert_ne!(after.ends_at, before.ends_at);
        assert_eq!(after.discount, before.discount);
        assert_eq!(after.min_subtotal, before.min_subtotal);
        for bad in [
            json!({"code": "OTHER"}),
            json!({"redemptions": 0}),
            json!({"version": 2}),
        ] {
            assert!(
                serde_json::from_value::<PromotionPatch>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_value::<PromotionPatch>(json!({}))
            .expect("empty")
            .is_empty());
    }

    #[test]
    fn exhaustion_follows_the_limit() {
        let mut p = promotion();
        assert!(!p.exhausted());
        p.redemptions = 3;
        assert!(p.exhausted());
        p.rules.max_redemptions = None;
        assert!(!p.exhausted());
    }
}
