//! The product item: how a [`Product`] is stored, and read back. Pure: no
//! I/O, so its round trip is a unit test.

use super::attr::{counter, get_n, get_parsed, get_s, n, s};
use super::StoreError;
use crate::domain::{money::Amount, Currency, Money, Product};
use crate::keys::{self, Item};

/// On the product item: the shards checkout spreads over (absent means 1)
/// and how many shard items may hold units (absent means none).
pub(crate) const STOCK_SHARDS: &str = "stock_shards";
pub(crate) const SHARD_SPAN: &str = "shard_span";

const DELETED_AT: &str = "deleted_at";

pub(crate) fn to_item(product: &Product) -> Item {
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

/// A stored product's (or search entry's) price.
pub(crate) fn price_of(item: &Item) -> Result<Money, StoreError> {
    let amount: u64 = get_n(item, "price_amount")?;
    Ok(Money {
        amount: Amount::try_from(amount).map_err(StoreError::Corrupt)?,
        currency: get_parsed::<Currency>(item, "currency")?,
    })
}

pub(crate) fn from_item(item: &Item) -> Result<Product, StoreError> {
    let layout = layout_of(item)?;
    Ok(Product {
        sku: get_parsed(item, "sku")?,
        name: get_parsed(item, "name")?,
        description: get_parsed(item, "description")?,
        category: get_parsed(item, "category")?,
        price: price_of(item)?,
        stock: get_n(item, "stock")?,
        stock_shards: layout.0,
        shard_span: layout.1,
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

/// The layout a product item declares: `(stock_shards, shard_span)`.
pub(crate) fn layout_of(item: &Item) -> Result<(u8, u8), StoreError> {
    let shards = match item.get(STOCK_SHARDS) {
        Some(_) => get_n(item, STOCK_SHARDS)?,
        None => 1,
    };
    Ok((shards, counter(item, SHARD_SPAN)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product() -> Product {
        Product {
            sku: serde_json::from_value(json!("TEA-001")).expect("valid sku"),
            name: serde_json::from_value(json!("Sencha 🍵")).expect("valid name"),
            description: serde_json::from_value(json!("Green\ntea")).expect("valid text"),
            category: serde_json::from_value(json!("tea")).expect("valid category"),
            price: serde_json::from_value(json!({"amount": 1250, "currency": "USD"}))
                .expect("valid price"),
            stock: 7,
            stock_shards: 1,
            shard_span: 0,
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
    fn a_soft_deleted_item_is_no_product() {
        let mut item = to_item(&product());
        assert!(decode_product(&item).expect("decodes").is_some());
        item.insert(DELETED_AT.into(), s("2026-01-03T00:00:00Z"));
        assert_eq!(decode_product(&item).expect("decodes"), None);
    }
}
