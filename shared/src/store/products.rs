//! The catalog store: one GetItem per product read, one Query per page.

use std::future::Future;

use aws_sdk_dynamodb::Client;
use serde::Deserialize;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::StoreError;
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: ProductName,
    #[serde(default = "empty_description")]
    pub description: Description,
    pub category: Category,
    pub price: Money,
    pub stock: InitialStock,
}

fn empty_description() -> Description {
    // The empty string is within 0..=2000 characters by construction.
    Description::try_from(String::new()).unwrap_or_else(|_| unreachable!())
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
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&product)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(product),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Err(err) => Err(err.into()),
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
