//! Tax rates per destination country, and the one read that gives checkout
//! everything it prices with: the cart's products, the cart's promotion and
//! the destination's rates, in one `BatchGetItem`.
//!
//! That read is eventually consistent. Nothing checkout guarantees rests on
//! it: stock, a deleted product and the code's limit and version are each a
//! condition of the order's transaction. What may be up to about a second
//! old is a price or a tax rate edited just before, which the order then
//! records as the one it was priced with. In return a flash-sale SKU's
//! product item, read by every buyer, serves 6,000 reads a second instead
//! of 3,000: with 10 stock shards, about 5,000 checkouts a second instead
//! of 3,000 by the model in docs/FLASH-SALE.md.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::attr::{get_n, get_s, n, s};
use super::product_item::decode_product;
use super::promotions::{decode_promotion, Promotion};
use super::StoreError;
use crate::domain::{address::Country, promotion::PromoCode, tax::CountryRates, Product, Sku};
use crate::keys::{self, Item};

/// A country's rates as the admin API shows them: what staff set, under
/// `rates` (flattening it would make the schema's `allOf` forbid the other
/// fields, since the rates refuse unknown fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TaxRates {
    #[schema(value_type = String)]
    pub country: Country,
    pub rates: CountryRates,
    /// Counts changes of these rates.
    pub version: u64,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

pub trait TaxStore: Send + Sync {
    /// Sets (creates or replaces) a country's rates. Orders already placed
    /// keep the rates they were priced with.
    fn put(
        &self,
        country: &Country,
        rates: &CountryRates,
        now: &str,
    ) -> impl Future<Output = Result<TaxRates, StoreError>> + Send;

    /// A country's rates; `None` where the shop does not ship.
    fn get(
        &self,
        country: &Country,
    ) -> impl Future<Output = Result<Option<TaxRates>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoTaxes {
    client: Client,
    table: String,
}

impl DynamoTaxes {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn decode_rates(item: &Item) -> Result<TaxRates, StoreError> {
    Ok(TaxRates {
        country: super::attr::get_parsed(item, "country")?,
        rates: serde_json::from_str(get_s(item, "rates")?)
            .map_err(|_| StoreError::Corrupt("tax rates do not decode".into()))?,
        version: get_n(item, "version")?,
        updated_at: get_s(item, "updated_at")?.to_string(),
    })
}

impl TaxStore for DynamoTaxes {
    async fn put(
        &self,
        country: &Country,
        rates: &CountryRates,
        now: &str,
    ) -> Result<TaxRates, StoreError> {
        let rates_json =
            serde_json::to_string(rates).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::tax::rates(country)))
            .update_expression(
                "SET country = :country, rates = :rates, updated_at = :now ADD version :one",
            )
            .expression_attribute_values(":country", s(country.as_str()))
            .expression_attribute_values(":rates", s(rates_json))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await?;
        decode_rates(&out.attributes.unwrap_or_default())
    }

    async fn get(&self, country: &Country) -> Result<Option<TaxRates>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::tax::rates(country)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode_rates).transpose()
    }
}

/// What an order is priced with, read at once.
#[derive(Debug, Default)]
pub struct PricingInputs {
    /// The live products among those asked for.
    pub products: HashMap<Sku, Product>,
    /// The live promotion, if one was asked for and exists.
    pub promotion: Option<Promotion>,
    /// The destination's rates, if one was asked for and the shop ships there.
    pub rates: Option<CountryRates>,
}

pub trait PricingStore: Send + Sync {
    /// The products (at most 98), promotion and destination rates in one
    /// eventually consistent read (see the module's comment).
    fn load(
        &self,
        skus: &[Sku],
        code: Option<&PromoCode>,
        country: Option<&Country>,
    ) -> impl Future<Output = Result<PricingInputs, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoPricing {
    client: Client,
    table: String,
}

impl DynamoPricing {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl PricingStore for DynamoPricing {
    async fn load(
        &self,
        skus: &[Sku],
        code: Option<&PromoCode>,
        country: Option<&Country>,
    ) -> Result<PricingInputs, StoreError> {
        let mut unique: Vec<&Sku> = skus.iter().collect();
        unique.sort();
        unique.dedup();
        let mut wanted: Vec<Item> = unique.into_iter().map(keys::product::key).collect();
        let promotion_key = code.map(keys::promotion::key);
        let rates_key = country.map(keys::tax::rates);
        wanted.extend(promotion_key.iter().cloned());
        wanted.extend(rates_key.iter().cloned());
        let mut inputs = PricingInputs::default();
        for item in super::batch_get_eventually(&self.client, &self.table, wanted).await? {
            if promotion_key
                .as_ref()
                .is_some_and(|key| super::has_key(&item, key))
            {
                inputs.promotion = decode_promotion(&item)?;
            } else if rates_key
                .as_ref()
                .is_some_and(|key| super::has_key(&item, key))
            {
                inputs.rates = Some(decode_rates(&item)?.rates);
            } else if let Some(product) = decode_product(&item)? {
                inputs.products.insert(product.sku.clone(), product);
            }
        }
        Ok(inputs)
    }
}
