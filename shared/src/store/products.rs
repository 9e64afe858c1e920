//! The catalog store: one GetItem per product read, one Query per page.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{TransactWriteItem, Update},
    Client,
};
use serde::Deserialize;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::idempotency::{self, Completion};
use super::{StoreError, LIVE};
use crate::domain::{
    money::Amount,
    product::{Description, ProductName, MAX_STOCK},
    Category, Currency, Money, PageLimit, Product, Sku,
};
use crate::keys::{self, Item};

/// Initial stock of a new product: 0..=1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct InitialStock(u32);

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

/// A catalog edit: any of name, description, category, price. Stock moves
/// only through `POST /v1/products/{sku}/stock` (`ProductStore::adjust_stock`);
/// sku, stock, version and unknown fields are rejected.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(inline)]
    pub name: Option<ProductName>,
    #[schema(inline)]
    pub description: Option<Description>,
    pub category: Option<Category>,
    pub price: Option<Money>,
}

impl ProductPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.price.is_none()
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
pub struct Page {
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
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

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

    /// Sets a live product's stock from `from`, as read, to `to`, in one
    /// transaction with an idempotency completion (whose response must
    /// state `to`, so it cannot be an ADD): `false` if the stock changed
    /// since it was read, or the product went.
    fn replace_stock(
        &self,
        sku: &Sku,
        from: u32,
        to: u32,
        completion: &Completion<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoProducts {
    client: Client,
    table: String,
}

impl DynamoProducts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

const DELETED_AT: &str = "deleted_at";

fn to_item(product: &Product) -> Item {
    let mut item = keys::product::listed_key(&product.sku, &product.category);
    item.extend([
        ("sku".into(), s(product.sku.as_str())),
        ("name".into(), s(product.name.as_str())),
        ("description".into(), s(product.description.as_str())),
        ("category".into(), s(product.category.as_str())),
        ("price_amount".into(), n(product.price.amount.get())),
        ("currency".into(), s(product.price.currency.code())),
        ("stock".into(), n(product.stock)),
        ("version".into(), n(product.version)),
        ("created_at".into(), s(&product.created_at)),
        ("updated_at".into(), s(&product.updated_at)),
    ]);
    item
}

fn from_item(item: &Item) -> Result<Product, StoreError> {
    let amount: u64 = get_n(item, "price_amount")?;
    Ok(Product {
        sku: get_parsed(item, "sku")?,
        name: get_parsed(item, "name")?,
        description: get_parsed(item, "description")?,
        category: get_parsed(item, "category")?,
        price: Money {
            amount: Amount::try_from(amount).map_err(StoreError::Corrupt)?,
            currency: get_parsed::<Currency>(item, "currency")?,
        },
        stock: get_n(item, "stock")?,
        version: get_n(item, "version")?,
        created_at: get_s(item, "created_at")?.to_string(),
        updated_at: get_s(item, "updated_at")?.to_string(),
    })
}

/// A stored product item as a live product; `None` when soft-deleted.
pub(crate) fn decode_product(item: &Item) -> Result<Option<Product>, StoreError> {
    if item.contains_key(DELETED_AT) {
        return Ok(None);
    }
    from_item(item).map(Some)
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
            Some(item) if !item.contains_key(DELETED_AT) => from_item(&item).map(Some),
            _ => Ok(None),
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
        let mut found = std::collections::HashMap::new();
        for item in super::batch_get(&self.client, &self.table, keys).await? {
            if let Some(product) = decode_product(&item)? {
                found.insert(product.sku.clone(), product);
            }
        }
        Ok(found)
    }

    async fn list(
        &self,
        category: Option<&Category>,
        limit: PageLimit,
        after: Option<&Sku>,
    ) -> Result<Page, StoreError> {
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
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let last = match out.last_evaluated_key {
            Some(_) => items.last().map(|p| p.sku.clone()),
            None => None,
        };
        Ok(Page { items, last })
    }

    async fn create(&self, new: &NewProduct, now: &str) -> Result<Product, StoreError> {
        let product = Product {
            sku: new.sku.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            category: new.category.clone(),
            price: new.price,
            stock: new.stock.0,
            version: 1,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        };
        // Keyed on the SKU item itself, so a deleted product's SKU is never
        // reused: old orders keep pointing at what they bought.
        if super::put_if_absent(&self.client, &self.table, to_item(&product)).await? {
            Ok(product)
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn update(
        &self,
        sku: &Sku,
        expected_version: Option<u64>,
        patch: &ProductPatch,
        now: &str,
    ) -> Result<Product, StoreError> {
        let mut sets = vec!["version = version + :one", "updated_at = :now"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::product::key(sku)))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now));
        if let Some(name) = &patch.name {
            sets.push("#name = :name");
            request = request
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", s(name.as_str()));
        }
        if let Some(description) = &patch.description {
            sets.push("description = :description");
            request = request.expression_attribute_values(":description", s(description.as_str()));
        }
        if let Some(category) = &patch.category {
            let (index_attr, partition) = keys::product::category_partition(category);
            sets.push("category = :category");
            sets.push("#category_pk = :category_pk");
            request = request
                .expression_attribute_names("#category_pk", index_attr)
                .expression_attribute_values(":category", s(category.as_str()))
                .expression_attribute_values(":category_pk", partition);
        }
        if let Some(price) = &patch.price {
            sets.push("price_amount = :amount");
            sets.push("currency = :currency");
            request = request
                .expression_attribute_values(":amount", n(price.amount.get()))
                .expression_attribute_values(":currency", s(price.currency.code()));
        }
        let mut condition = LIVE.to_string();
        if let Some(version) = expected_version {
            condition.push_str(" AND version = :expected");
            request = request.expression_attribute_values(":expected", n(version));
        }
        let result = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        from_item(&super::updated_live_item(result)?)
    }

    async fn delete(&self, sku: &Sku, now: &str) -> Result<(), StoreError> {
        super::soft_delete(
            &self.client,
            &self.table,
            keys::product::key(sku),
            &keys::product::LISTING_ATTRIBUTES,
            now,
        )
        .await
    }

    async fn replace_stock(
        &self,
        sku: &Sku,
        from: u32,
        to: u32,
        completion: &Completion<'_>,
    ) -> Result<bool, StoreError> {
        let update = super::built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::product::key(sku)))
                .update_expression("SET stock = :to")
                .condition_expression(format!("{LIVE} AND stock = :from"))
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_values(":from", n(from))
                .expression_attribute_values(":to", n(to))
                .build(),
        )?;
        let actions = vec![
            TransactWriteItem::builder().update(update).build(),
            idempotency::complete_action(&self.table, completion)?,
        ];
        match super::transact(&self.client, actions).await? {
            Ok(()) => Ok(true),
            Err(codes) if super::condition_failed(&codes, 1) => Err(StoreError::LeaseLost),
            Err(_) => Ok(false),
        }
    }

    async fn adjust_stock(&self, sku: &Sku, delta: StockDelta) -> Result<StockChange, StoreError> {
        let delta = delta.get();
        // stock + delta must stay within 0..=MAX_STOCK, checked by DynamoDB
        // against the current value, so concurrent adjustments never race.
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
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(StockChange::Applied {
                stock: get_n(&out.attributes.unwrap_or_default(), "stock")?,
            }),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item.clone().filter(super::is_live) {
                        Some(item) => Ok(StockChange::Refused {
                            stock: get_n(&item, "stock")?,
                        }),
                        None => Err(StoreError::NotFound),
                    }
                }
                _ => Err(err.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product() -> Product {
        let new: NewProduct = serde_json::from_value(json!({
            "sku": "TEA-001", "name": "Sencha 🍵", "description": "Green\ntea",
            "category": "tea", "price": {"amount": 1250, "currency": "USD"}, "stock": 7
        }))
        .expect("valid product");
        Product {
            sku: new.sku,
            name: new.name,
            description: new.description,
            category: new.category,
            price: new.price,
            stock: new.stock.0,
            version: 3,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-02T00:00:00Z".into(),
        }
    }

    #[test]
    fn item_round_trips_exactly() {
        let original = product();
        assert_eq!(from_item(&to_item(&original)).expect("decodes"), original);
    }

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
