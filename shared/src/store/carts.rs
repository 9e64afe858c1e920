//! Carts. A cart is one small item (at most 50 lines) holding its lines as
//! a JSON document and a version; every write replaces it conditionally on
//! the version it read, so two tabs writing at once cannot lose a line.
//! Lines keep the name and price seen when they were last set; `GET
//! /v1/cart` re-prices from the catalog, and checkout always does.

use std::future::Future;

use aws_sdk_dynamodb::Client;

use super::attr::n;
use super::cart_item::{decode_cart, encode_cart};
use super::product_item::decode_product;
use super::StoreError;
pub use crate::domain::cart::{Cart, CartFull, CartLine, CartPromotion, CartView};
use crate::domain::{Product, Sku, UserId};
use crate::keys::{self, Item};

pub trait CartStore: Send + Sync {
    fn get(&self, user: &UserId) -> impl Future<Output = Result<Cart, StoreError>> + Send;

    /// The cart and one live product, in one read.
    fn get_with_product(
        &self,
        user: &UserId,
        sku: &Sku,
    ) -> impl Future<Output = Result<(Cart, Option<Product>), StoreError>> + Send;

    /// Saves `cart` if the stored one is still at `cart.version`;
    /// `ConditionFailed` if another write came first.
    fn save(
        &self,
        user: &UserId,
        cart: &Cart,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCarts {
    client: Client,
    table: String,
}

impl DynamoCarts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl CartStore for DynamoCarts {
    async fn get(&self, user: &UserId) -> Result<Cart, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::cart::cart(user)))
            .consistent_read(true)
            .send()
            .await?;
        decode_cart(out.item.as_ref())
    }

    async fn get_with_product(
        &self,
        user: &UserId,
        sku: &Sku,
    ) -> Result<(Cart, Option<Product>), StoreError> {
        let cart_key = keys::cart::cart(user);
        let product_key = keys::product::key(sku);
        let items = super::batch_get(
            &self.client,
            &self.table,
            vec![cart_key.clone(), product_key.clone()],
        )
        .await?;
        let find = |key: &Item| items.iter().find(|item| super::has_key(item, key));
        let cart = decode_cart(find(&cart_key))?;
        let product = find(&product_key)
            .map(decode_product)
            .transpose()?
            .flatten();
        Ok((cart, product))
    }

    async fn save(&self, user: &UserId, cart: &Cart) -> Result<(), StoreError> {
        let item = encode_cart(user, cart)?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = if cart.version == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
        } else {
            put.condition_expression("version = :version")
                .expression_attribute_values(":version", n(cart.version))
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(err) => Err(err.into()),
        }
    }
}
