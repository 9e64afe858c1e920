//! The catalog store: one GetItem per product read, one Query per page.
//!
//! Every catalog edit (create, edit, delete) writes a `product.changed`
//! event to the outbox in its own transaction, which is how the search
//! index hears of it (functions/search-indexer). Stock moves write none:
//! search reads stock live.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{TransactWriteItem, Update},
    Client,
};
use serde::Deserialize;

use super::attr::{get_parsed, n, s};
use super::idempotency::{self, Completion};
use super::outbox::{self, Relay};
use super::product_item::{from_item, to_item};
use super::shards::{self, Rebalanced};
use super::{StoreError, LIVE};
use crate::domain::{
    product::{Description, ProductName, MAX_STOCK},
    stock::ShardCount,
    Category, Money, PageLimit, Product, Sku,
};
use crate::events::{Change, Event};
use crate::keys;

/// Initial stock of a new product: 0..=1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct InitialStock(u32);

impl InitialStock {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u64> for InitialStock {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        u32::try_from(value)
            .ok()
            .filter(|v| *v <= MAX_STOCK)
            .map(Self)
            .ok_or_else(|| format!("must be between 0 and {MAX_STOCK}"))
    }
}

/// A product as the admin creates it. Server-owned fields (version,
/// timestamps) cannot be sent: unknown fields are rejected.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: Sku,
    #[schema(inline)]
    pub name: ProductName,
    #[serde(default = "empty_description")]
    #[schema(inline)]
    pub description: Description,
    pub category: Category,
    pub price: Money,
    pub stock: InitialStock,
}

fn empty_description() -> Description {
    // The empty string is within 0..=2000 characters by construction.
    Description::try_from(String::new()).unwrap_or_else(|_| unreachable!())
}

/// A catalog edit: any of name, description, category, price, and how
/// many shards the stock is spread over. Stock moves only through
/// `POST /v1/products/{sku}/stock` (`ProductStore::adjust_stock`); sku,
/// stock, version and unknown fields are rejected.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(inline)]
    pub name: Option<ProductName>,
    #[schema(inline)]
    pub description: Option<Description>,
    pub category: Option<Category>,
    pub price: Option<Money>,
    /// 1 (not sharded) to 32: for a flash sale past one item's write
    /// ceiling (docs/FLASH-SALE.md). Units already there are moved, never
    /// lost, while orders go on.
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 32)]
    pub stock_shards: Option<ShardCount>,
}

impl ProductPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.price.is_none()
            && self.stock_shards.is_none()
    }
}

/// A stock adjustment: a non-zero change of at most a million units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct StockDelta(i64);

impl StockDelta {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for StockDelta {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        let max = i64::from(MAX_STOCK);
        if value != 0 && (-max..=max).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!(
                "must be a non-zero integer between -{max} and {max}"
            ))
        }
    }
}

/// The outcome of a stock adjustment that found its product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    Applied {
        stock: u32,
    },
    /// Would go below zero or above the cap; nothing changed.
    Refused {
        stock: u32,
    },
}

/// One page of a listing. `last` is set when more items may follow.
#[derive(Debug)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub last: Option<Sku>,
}

pub trait ProductStore: Send + Sync {
    /// A live product; soft-deleted and unknown SKUs are both `None`.
    fn get(&self, sku: &Sku) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;

    /// The live products among `skus` (at most 100), in one strongly
    /// consistent read; missing and deleted SKUs are simply absent.
    fn get_many(
        &self,
        skus: &[Sku],
    ) -> impl Future<Output = Result<std::collections::HashMap<Sku, Product>, StoreError>> + Send;

    /// Live products in SKU order, optionally within one category.
    fn list(
        &self,
        category: Option<&Category>,
        limit: PageLimit,
        after: Option<&Sku>,
    ) -> impl Future<Output = Result<ProductPage, StoreError>> + Send;

    /// Creates a product; `StoreError::AlreadyExists` if the SKU was ever used.
    fn create(
        &self,
        product: &NewProduct,
        now: &str,
    ) -> impl Future<Output = Result<Product, StoreError>> + Send;

    /// Applies a catalog edit if the product is live and, when given, still
    /// at `expected_version`; `NotFound` / `ConditionFailed` otherwise.
    fn update(
        &self,
        sku: &Sku,
        expected_version: Option<u64>,
        patch: &ProductPatch,
        now: &str,
    ) -> impl Future<Output = Result<Product, StoreError>> + Send;

    /// Soft-deletes a live product: gone from reads and listings, kept for
    /// the orders that refer to it. `NotFound` if not live.
    fn delete(&self, sku: &Sku, now: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically adds `delta` to a live product's stock, never below zero
    /// or above the cap.
    fn adjust_stock(
        &self,
        sku: &Sku,
        delta: StockDelta,
    ) -> impl Future<Output = Result<StockChange, StoreError>> + Send;

    /// Sets a live product's stock from `product.stock`, as read, to `to`,
    /// in one transaction with an idempotency completion (whose response
    /// must state `to`, so it cannot be an ADD): `false` if the stock
    /// changed since it was read, or the product went. A sharded SKU's
    /// units move on during a sale, so its change is the difference, added
    /// to or taken from its bins, and `to` is the total as of the read.
    fn replace_stock(
        &self,
        product: &Product,
        to: u32,
        completion: &Completion<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Evens out a sharded SKU's bins for its shard count and lets go of
    /// shards it no longer needs (domain::stock).
    fn rebalance(&self, sku: &Sku) -> impl Future<Output = Result<Rebalanced, StoreError>> + Send;

    /// The SKUs whose stock is sharded or being un-sharded.
    fn sharded(&self) -> impl Future<Output = Result<Vec<Sku>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoProducts {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoProducts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            relay: None,
        }
    }

    /// Catalog edits then send their event right after the commit; without
    /// a relay the outbox sweeper sends it after its grace period.
    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }

    /// The event announcing an edit of `sku`, and its outbox writes.
    fn changed(&self, sku: &Sku) -> Result<(Event, Vec<TransactWriteItem>), StoreError> {
        let event = Event::new(Change::ProductChanged { sku: sku.clone() });
        let actions = outbox::put_actions(&self.table, &event)?;
        Ok((event, actions))
    }

    /// Runs a catalog edit (`edit`, then its event's outbox items) and
    /// sends the event once it committed; the cancellation codes otherwise.
    async fn commit_edit(
        &self,
        sku: &Sku,
        mut actions: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<Option<String>>>, StoreError> {
        let (event, outbox_items) = self.changed(sku)?;
        actions.extend(outbox_items);
        let outcome = super::transact(&self.client, actions).await?;
        if outcome.is_ok() {
            outbox::publish(self.relay.as_ref(), &event).await;
        }
        Ok(outcome)
    }

    /// Why a live-conditioned edit was refused: gone, or changed meanwhile.
    async fn refusal(&self, sku: &Sku) -> Result<StoreError, StoreError> {
        Ok(match self.get(sku).await? {
            Some(_) => StoreError::ConditionFailed,
            None => StoreError::NotFound,
        })
    }
}

impl ProductStore for DynamoProducts {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        // Strongly consistent: the ETag a client revalidates against, and the
        // stock it is about to buy, must reflect the last write.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::product::key(sku)))
            .consistent_read(true)
            .send()
            .await?;
        match out.item {
            Some(item) => Ok(
                shards::products_counted(&self.client, &self.table, vec![item])
                    .await?
                    .pop(),
            ),
            None => Ok(None),
        }
    }

    async fn get_many(
        &self,
        skus: &[Sku],
    ) -> Result<std::collections::HashMap<Sku, Product>, StoreError> {
        let mut unique: Vec<&Sku> = skus.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.into_iter().map(keys::product::key).collect();
        let items = super::batch_get(&self.client, &self.table, keys).await?;
        Ok(shards::products_counted(&self.client, &self.table, items)
            .await?
            .into_iter()
            .map(|product| (product.sku.clone(), product))
            .collect())
    }

    async fn list(
        &self,
        category: Option<&Category>,
        limit: PageLimit,
        after: Option<&Sku>,
    ) -> Result<ProductPage, StoreError> {
        let (index, partition) = keys::product::listing(category);
        let limit_i32 = i32::try_from(limit.get()).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", partition)
            .set_exclusive_start_key(after.map(|sku| keys::product::resume_after(sku, category)))
            .limit(limit_i32)
            .send()
            .await?;
        let found = out.items.unwrap_or_default();
        // The cursor is the last SKU the index gave, even one deleted since.
        let last = match out.last_evaluated_key {
            Some(_) => found
                .last()
                .map(|item| get_parsed(item, "sku"))
                .transpose()?,
            None => None,
        };
        // A page with sharded SKUs reads their shards too (one more call).
        let items = shards::products_counted(&self.client, &self.table, found).await?;
        Ok(ProductPage { items, last })
    }

    async fn create(&self, new: &NewProduct, now: &str) -> Result<Product, StoreError> {
        let product = Product {
            sku: new.sku.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            category: new.category.clone(),
            price: new.price,
            stock: new.stock.0,
            stock_shards: 1,
            shard_span: 0,
            version: 1,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        };
        // Keyed on the SKU item itself, so a deleted product's SKU is never
        // reused: old orders keep pointing at what they bought.
        let put = super::built(
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(&product)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .build(),
        )?;
        let actions = vec![TransactWriteItem::builder().put(put).build()];
        match self.commit_edit(&product.sku, actions).await? {
            Ok(()) => Ok(product),
            Err(codes) if super::condition_failed(&codes, 0) => Err(StoreError::AlreadyExists),
            Err(_) => Err(StoreError::Dynamo("product create cancelled".into())),
        }
    }

    async fn update(
        &self,
        sku: &Sku,
        expected_version: Option<u64>,
        patch: &ProductPatch,
        now: &str,
    ) -> Result<Product, StoreError> {
        if let Some(shards) = patch.stock_shards {
            return self
                .reshard(sku, expected_version, patch, shards, now)
                .await;
        }
        let edit = Edit::of(patch, now);
        let mut condition = LIVE.to_string();
        let mut values = edit.values;
        if let Some(version) = expected_version {
            condition.push_str(" AND version = :expected");
            values.insert(":expected".into(), n(version));
        }
        let update = super::built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::key(sku)))
                .update_expression(edit.expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(edit.names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        // A transaction returns no item: the edited product is read back
        // (one more call, on an admin route, for the event's guarantee).
        match self
            .commit_edit(
                sku,
                vec![TransactWriteItem::builder().update(update).build()],
            )
            .await?
        {
            Ok(()) => self.get(sku).await?.ok_or(StoreError::NotFound),
            Err(_) => Err(self.refusal(sku).await?),
        }
    }

    async fn delete(&self, sku: &Sku, now: &str) -> Result<(), StoreError> {
        // An unsharded product (nearly all) is one conditional update.
        let update = super::built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::key(sku)))
                .update_expression(delete_expression())
                .condition_expression(format!(
                    "{LIVE} AND attribute_not_exists(shard_span) AND \
                     (attribute_not_exists(stock_shards) OR stock_shards = :one)"
                ))
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_values(":now", s(now))
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        match self
            .commit_edit(
                sku,
                vec![TransactWriteItem::builder().update(update).build()],
            )
            .await?
        {
            Ok(()) => Ok(()),
            // Gone (NotFound), or sharded: its shards go with it.
            Err(_) => self.delete_sharded(sku, now).await,
        }
    }

    async fn replace_stock(
        &self,
        product: &Product,
        to: u32,
        completion: &Completion<'_>,
    ) -> Result<bool, StoreError> {
        let sku = &product.sku;
        let from = product.stock;
        let mut actions = Vec::new();
        if product.is_sharded() && to > from {
            let delta = to - from;
            let add = super::built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::key(sku)))
                    .update_expression("ADD stock :delta")
                    .condition_expression(format!("{LIVE} AND stock <= :most"))
                    .expression_attribute_names("#pk", keys::PK)
                    .expression_attribute_values(":delta", n(delta))
                    .expression_attribute_values(":most", n(MAX_STOCK - delta.min(MAX_STOCK)))
                    .build(),
            )?;
            actions.push(TransactWriteItem::builder().update(add).build());
        } else if product.is_sharded() {
            let reach = product.shards_to_read();
            let bins = shards::read_bins(&self.client, &self.table, &[(sku.clone(), reach)])
                .await?
                .remove(sku)
                .unwrap_or_default();
            let Some(takes) = bins.take(from - to, ALL_BINS, crate::domain::stock::random()) else {
                return Ok(false);
            };
            for take in takes {
                actions.push(shards::take_action(&self.table, sku, take)?);
            }
        } else {
            let update = super::built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::key(sku)))
                    .update_expression("SET stock = :to")
                    .condition_expression(format!(
                        "{LIVE} AND stock = :from AND attribute_not_exists(shard_span)"
                    ))
                    .expression_attribute_names("#pk", keys::PK)
                    .expression_attribute_values(":from", n(from))
                    .expression_attribute_values(":to", n(to))
                    .build(),
            )?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        let completion_at = actions.len();
        actions.push(idempotency::complete_action(&self.table, completion)?);
        match super::transact(&self.client, actions).await? {
            Ok(()) => Ok(true),
            Err(codes) if super::condition_failed(&codes, completion_at) => {
                Err(StoreError::LeaseLost)
            }
            Err(_) => Ok(false),
        }
    }

    async fn adjust_stock(&self, sku: &Sku, delta: StockDelta) -> Result<StockChange, StoreError> {
        let delta = delta.get();
        // stock + delta must stay within 0..=MAX_STOCK, checked by DynamoDB
        // against the current value, so concurrent adjustments never race.
        // For a sharded SKU that is its product item's units (where returns
        // land); a withdrawal they cannot cover takes from the shards.
        let min_before = (-delta).max(0);
        let max_before = i64::from(MAX_STOCK) - delta.max(0);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::product::key(sku)))
            .update_expression("ADD stock :delta")
            .condition_expression(format!("{LIVE} AND stock BETWEEN :min AND :max"))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":min", n(min_before))
            .expression_attribute_values(":max", n(max_before))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let product = shards::products_counted(&self.client, &self.table, vec![item])
                    .await?
                    .pop()
                    .ok_or(StoreError::NotFound)?;
                Ok(StockChange::Applied {
                    stock: product.stock,
                })
            }
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let Some(item) = failed.item.clone().filter(super::is_live) else {
                        return Err(StoreError::NotFound);
                    };
                    let product = from_item(&item)?;
                    if product.is_sharded() && delta < 0 {
                        return self.withdraw(&product, delta.unsigned_abs()).await;
                    }
                    let product = shards::products_counted(&self.client, &self.table, vec![item])
                        .await?
                        .pop()
                        .ok_or(StoreError::NotFound)?;
                    Ok(StockChange::Refused {
                        stock: product.stock,
                    })
                }
                _ => Err(err.into()),
            },
        }
    }

    async fn rebalance(&self, sku: &Sku) -> Result<Rebalanced, StoreError> {
        shards::rebalance(&self.client, &self.table, sku).await
    }

    async fn sharded(&self) -> Result<Vec<Sku>, StoreError> {
        shards::sharded_skus(&self.client, &self.table).await
    }
}

/// A take may use every bin: the product item and 32 shards.
const ALL_BINS: usize = 1 + crate::domain::stock::MAX_SHARDS as usize;

/// A soft delete: marked, and off every listing.
fn delete_expression() -> String {
    format!(
        "SET deleted_at = :now, updated_at = :now REMOVE {}",
        keys::product::LISTING_ATTRIBUTES.join(", ")
    )
}

/// Tries at a withdrawal across bins that checkouts keep moving.
const WITHDRAW_ATTEMPTS: usize = 4;

/// A catalog edit as one `SET` expression with its names and values, for
/// an `UpdateItem` or a transaction's `Update` alike.
struct Edit {
    expression: String,
    names: std::collections::HashMap<String, String>,
    values: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

impl Edit {
    fn of(patch: &ProductPatch, now: &str) -> Self {
        let mut sets = vec!["version = version + :one", "updated_at = :now"];
        let mut names =
            std::collections::HashMap::from([("#pk".to_string(), keys::PK.to_string())]);
        let mut values = std::collections::HashMap::from([
            (":one".to_string(), n(1)),
            (":now".to_string(), s(now)),
        ]);
        if let Some(name) = &patch.name {
            sets.push("#name = :name");
            names.insert("#name".into(), "name".into());
            values.insert(":name".into(), s(name.as_str()));
        }
        if let Some(description) = &patch.description {
            sets.push("description = :description");
            values.insert(":description".into(), s(description.as_str()));
        }
        if let Some(category) = &patch.category {
            let (index_attr, partition) = keys::product::category_partition(category);
            sets.push("category = :category");
            sets.push("#category_pk = :category_pk");
            names.insert("#category_pk".into(), index_attr.into());
            values.insert(":category".into(), s(category.as_str()));
            values.insert(":category_pk".into(), partition);
        }
        if let Some(price) = &patch.price {
            sets.push("price_amount = :amount");
            sets.push("currency = :currency");
            values.insert(":amount".into(), n(price.amount.get()));
            values.insert(":currency".into(), s(price.currency.code()));
        }
        if let Some(shards) = patch.stock_shards {
            sets.push("stock_shards = :shards");
            values.insert(":shards".into(), n(shards.get()));
        }
        Self {
            expression: format!("SET {}", sets.join(", ")),
            names,
            values,
        }
    }
}

impl DynamoProducts {
    /// A catalog edit that changes the shard count: the product item's
    /// layout is read first, because its span (which shards may hold
    /// units) only grows here and only shrinks once drained. The edit and
    /// the rebalancer's list entry are one transaction, conditional on the
    /// version read; then one rebalance moves the units.
    async fn reshard(
        &self,
        sku: &Sku,
        expected_version: Option<u64>,
        patch: &ProductPatch,
        shards: ShardCount,
        now: &str,
    ) -> Result<Product, StoreError> {
        for _ in 0..3 {
            let current = self.get(sku).await?.ok_or(StoreError::NotFound)?;
            if expected_version.is_some_and(|v| v != current.version) {
                return Err(StoreError::ConditionFailed);
            }
            let span = if shards.is_sharded() {
                current.shard_span.max(shards.get())
            } else {
                current.shard_span
            };
            let mut edit = Edit::of(patch, now);
            if span > 0 {
                edit.expression.push_str(", shard_span = :span");
                edit.values.insert(":span".into(), n(span));
            }
            edit.values.insert(":read".into(), n(current.version));
            let update = super::built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::key(sku)))
                    .update_expression(edit.expression)
                    .condition_expression(format!("{LIVE} AND version = :read"))
                    .set_expression_attribute_names(Some(edit.names))
                    .set_expression_attribute_values(Some(edit.values))
                    .build(),
            )?;
            let mut actions = vec![TransactWriteItem::builder().update(update).build()];
            if span > 0 {
                let mut entry = keys::product::sharded(sku);
                entry.insert("since".into(), s(now));
                let listed = super::built(
                    aws_sdk_dynamodb::types::Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(entry))
                        .build(),
                )?;
                actions.push(TransactWriteItem::builder().put(listed).build());
            }
            match self.commit_edit(sku, actions).await? {
                Ok(()) => {
                    // The edit stands either way: units a busy sale kept
                    // from moving now, the scheduled rebalancer moves.
                    if let Err(err) = shards::rebalance(&self.client, &self.table, sku).await {
                        tracing::warn!(%sku, error = %err, "rebalance after re-sharding failed");
                    }
                    return self.get(sku).await?.ok_or(StoreError::NotFound);
                }
                // Edited meanwhile: a client that named a version loses.
                Err(_) if expected_version.is_some() => return Err(StoreError::ConditionFailed),
                Err(_) => continue,
            }
        }
        Err(StoreError::ConditionFailed)
    }

    /// Deletes a sharded product and marks its shards deleted with it, so
    /// a checkout that read the product before the delete cannot take a
    /// shard's units after it.
    async fn delete_sharded(&self, sku: &Sku, now: &str) -> Result<(), StoreError> {
        let product = self.get(sku).await?.ok_or(StoreError::NotFound)?;
        let (shards, span) = (product.stock_shards, product.shard_span);
        let mut check = format!("{LIVE} AND shard_span = :span");
        let mut values = std::collections::HashMap::from([
            (":now".to_string(), s(now)),
            (":span".to_string(), n(span)),
            (":shards".to_string(), n(shards)),
        ]);
        if span == 0 {
            check = format!("{LIVE} AND attribute_not_exists(shard_span)");
            values.remove(":span");
        }
        check.push_str(" AND stock_shards = :shards");
        let product_update = super::built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::key(sku)))
                .update_expression(delete_expression())
                .condition_expression(check)
                .expression_attribute_names("#pk", keys::PK)
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let mut actions = vec![TransactWriteItem::builder().update(product_update).build()];
        for i in 0..product.shards_to_read() {
            let mark = super::built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::product::shard(sku, i)))
                    .update_expression("SET deleted_at = :now")
                    .expression_attribute_values(":now", s(now))
                    .build(),
            )?;
            actions.push(TransactWriteItem::builder().update(mark).build());
        }
        let unlist = super::built(
            aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::sharded(sku)))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().delete(unlist).build());
        match self.commit_edit(sku, actions).await? {
            Ok(()) => Ok(()),
            // Its layout changed between the two reads: as for any edit.
            Err(_) => Err(StoreError::ConditionFailed),
        }
    }

    /// Takes `units` from a sharded SKU's bins, re-reading them when a
    /// checkout got there first; refused when they hold fewer in all.
    async fn withdraw(&self, product: &Product, units: u64) -> Result<StockChange, StoreError> {
        let sku = &product.sku;
        let units = u32::try_from(units).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let reach = product.shards_to_read();
        for _ in 0..WITHDRAW_ATTEMPTS {
            let bins = shards::read_bins(&self.client, &self.table, &[(sku.clone(), reach)])
                .await?
                .remove(sku)
                .ok_or(StoreError::NotFound)?;
            let total = u32::try_from(bins.total()).unwrap_or(u32::MAX);
            let Some(takes) = bins.take(units, ALL_BINS, crate::domain::stock::random()) else {
                return Ok(StockChange::Refused { stock: total });
            };
            let actions = takes
                .into_iter()
                .map(|take| shards::take_action(&self.table, sku, take))
                .collect::<Result<Vec<_>, _>>()?;
            if super::transact(&self.client, actions).await?.is_ok() {
                return Ok(StockChange::Applied {
                    stock: total - units,
                });
            }
        }
        Err(StoreError::ConditionFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_product_rejects_server_owned_and_unknown_fields() {
        for field in ["version", "created_at", "role", "id"] {
            let mut body = json!({
                "sku": "TEA-001", "name": "n", "category": "tea",
                "price": {"amount": 1, "currency": "USD"}, "stock": 1
            });
            body[field] = json!(1);
            assert!(
                serde_json::from_value::<NewProduct>(body).is_err(),
                "{field}"
            );
        }
    }

    #[test]
    fn initial_stock_is_bounded() {
        assert!(InitialStock::try_from(1_000_000).is_ok());
        assert!(InitialStock::try_from(1_000_001).is_err());
        assert!(InitialStock::try_from(u64::MAX).is_err());
    }
}
