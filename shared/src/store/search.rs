//! The search log: what the catalog search index is built from after its
//! first read of the catalog.
//!
//! The search indexer (an SQS worker on the catalog queue) writes one entry
//! per `product.changed` event: the product's searchable fields as it read
//! them, or a tombstone. Each search instance reads the entries written
//! since it last looked (one Query, at most once a second) and applies
//! them by version, so entries that arrive late or twice change nothing.
//! Entries expire after [`RETENTION_MS`]; an instance that has not looked
//! for longer rebuilds from the catalog.

use std::future::Future;

use aws_sdk_dynamodb::Client;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::StoreError;
use crate::domain::{
    product::{Description, ProductName},
    Category, Money, Product, Sku,
};
use crate::keys::{self, Item};

/// How long an entry is kept (DynamoDB's TTL then removes it).
pub const RETENTION_MS: u64 = 24 * 60 * 60 * 1000;

/// What search indexes of a product: its catalog fields and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDoc {
    pub sku: Sku,
    pub name: ProductName,
    pub description: Description,
    pub category: Category,
    pub price: Money,
    /// The product's catalog version: a later edit has a higher one.
    pub version: u64,
}

impl From<&Product> for SearchDoc {
    fn from(product: &Product) -> Self {
        Self {
            sku: product.sku.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            category: product.category.clone(),
            price: product.price,
            version: product.version,
        }
    }
}

/// One log entry: the product as the indexer read it at `at_ms`, or
/// `None` once it was deleted (SKUs are never reused, so that is final).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at_ms: u64,
    pub sku: Sku,
    pub doc: Option<SearchDoc>,
}

pub trait SearchLog: Send + Sync {
    /// Appends `entry`.
    fn record(&self, entry: &LogEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every entry written at or after `from_ms`, oldest first.
    fn since(&self, from_ms: u64)
        -> impl Future<Output = Result<Vec<LogEntry>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoSearchLog {
    client: Client,
    table: String,
}

impl DynamoSearchLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn to_item(entry: &LogEntry) -> Item {
    let mut item = keys::search::log_entry(entry.at_ms, &entry.sku);
    item.insert("sku".into(), s(entry.sku.as_str()));
    item.insert("at_ms".into(), n(entry.at_ms));
    item.insert(
        keys::EXPIRES_AT.into(),
        n((entry.at_ms + RETENTION_MS) / 1000),
    );
    match &entry.doc {
        Some(doc) => item.extend([
            ("name".into(), s(doc.name.as_str())),
            ("description".into(), s(doc.description.as_str())),
            ("category".into(), s(doc.category.as_str())),
            ("price_amount".into(), n(doc.price.amount.get())),
            ("currency".into(), s(doc.price.currency.code())),
            ("version".into(), n(doc.version)),
        ]),
        None => {
            item.insert(
                "deleted".into(),
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            );
        }
    }
    item
}

fn from_item(item: &Item) -> Result<LogEntry, StoreError> {
    let sku: Sku = get_parsed(item, "sku")?;
    let doc = if item.contains_key("deleted") {
        None
    } else {
        Some(SearchDoc {
            sku: sku.clone(),
            name: get_parsed(item, "name")?,
            description: get_parsed(item, "description")?,
            category: get_parsed(item, "category")?,
            price: super::product_item::price_of(item)?,
            version: get_n(item, "version")?,
        })
    };
    Ok(LogEntry {
        at_ms: get_n(item, "at_ms")?,
        sku,
        doc,
    })
}

impl SearchLog for DynamoSearchLog {
    async fn record(&self, entry: &LogEntry) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(entry)))
            .send()
            .await?;
        Ok(())
    }

    async fn since(&self, from_ms: u64) -> Result<Vec<LogEntry>, StoreError> {
        // Eventually consistent (half the price): an entry this read misses
        // is read again next time, because readers look back a margin.
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk >= :from")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":pk", keys::search::log_partition())
                .expression_attribute_values(":from", keys::search::log_from(from_ms))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                // One unreadable entry must not stop search for everyone.
                match from_item(&item) {
                    Ok(entry) => entries.push(entry),
                    Err(err) => {
                        let sk = get_s(&item, keys::SK).unwrap_or("?").to_string();
                        tracing::error!(sk, error = %err, "search log entry skipped: unreadable");
                    }
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(entries),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{money::Amount, Currency};

    fn doc() -> SearchDoc {
        SearchDoc {
            sku: Sku::try_from("TEA-001".to_string()).expect("sku"),
            name: ProductName::try_from("Sencha".to_string()).expect("name"),
            description: Description::try_from("Green tea".to_string()).expect("text"),
            category: Category::try_from("tea".to_string()).expect("category"),
            price: Money {
                amount: Amount::try_from(1250).expect("amount"),
                currency: Currency::try_from("USD".to_string()).expect("currency"),
            },
            version: 4,
        }
    }

    #[test]
    fn entries_round_trip_through_items() {
        for state in [Some(doc()), None] {
            let entry = LogEntry {
                at_ms: 1_765_000_000_123,
                sku: doc().sku,
                doc: state,
            };
            let item = to_item(&entry);
            assert_eq!(from_item(&item).expect("decodes"), entry);
            assert_eq!(
                item.get(keys::EXPIRES_AT).and_then(|v| v.as_n().ok()),
                Some(&"1765086400".to_string())
            );
        }
    }
}
