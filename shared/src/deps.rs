//! Dependency bundles that several functions share, built once at init.

use crate::{
    auth::{keys, TokenVerifier},
    domain::CursorKey,
    events::Topic,
    store::{DynamoCarts, DynamoCheckout, DynamoOrders, DynamoProducts, DynamoPromotions, Relay},
    Config,
};

/// What the admin catalog functions need: the product store and the
/// token verifier (each checks the caller's role itself).
pub struct CatalogAdmin<P> {
    pub products: P,
    pub verifier: TokenVerifier,
}

impl CatalogAdmin<DynamoProducts> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self {
            products: DynamoProducts::new(config.dynamodb(), &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the cart functions need.
pub struct Shopper<C, P> {
    pub carts: C,
    pub products: P,
    pub verifier: TokenVerifier,
}

impl Shopper<DynamoCarts, DynamoProducts> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            products: DynamoProducts::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What checkout needs.
pub struct Checkout<K, C, P, R = DynamoPromotions> {
    pub checkout: K,
    pub carts: C,
    pub products: P,
    pub promotions: R,
    pub verifier: TokenVerifier,
}

impl Checkout<DynamoCheckout, DynamoCarts, DynamoProducts, DynamoPromotions> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        let relay = Relay::from_env(&config, &[Topic::Orders])?;
        Ok(Self {
            checkout: DynamoCheckout::new(dynamodb.clone(), &config.table_name).with_relay(relay),
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            products: DynamoProducts::new(dynamodb.clone(), &config.table_name),
            promotions: DynamoPromotions::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the admin promotion functions need.
pub struct PromotionAdmin<R> {
    pub promotions: R,
    pub verifier: TokenVerifier,
    pub cursor_key: CursorKey,
}

impl PromotionAdmin<DynamoPromotions> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self {
            promotions: DynamoPromotions::new(config.dynamodb(), &config.table_name),
            verifier: keys::verifier_from_env()?,
            cursor_key: CursorKey::from_env()?,
        })
    }
}

/// What the cart's promotion functions need.
pub struct CartPromotions<C, P, R> {
    pub carts: C,
    pub products: P,
    pub promotions: R,
    pub verifier: TokenVerifier,
}

impl CartPromotions<DynamoCarts, DynamoProducts, DynamoPromotions> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            products: DynamoProducts::new(dynamodb.clone(), &config.table_name),
            promotions: DynamoPromotions::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the order functions need (customers' and staff's alike).
pub struct Orders<O> {
    pub orders: O,
    pub verifier: TokenVerifier,
    pub cursor_key: CursorKey,
}

impl Orders<DynamoOrders> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self {
            orders: DynamoOrders::new(config.dynamodb(), &config.table_name),
            verifier: keys::verifier_from_env()?,
            cursor_key: CursorKey::from_env()?,
        })
    }

    /// For functions that change an order: its event is relayed to the
    /// order events queue right after the commit.
    pub fn publishing_from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let relay = Relay::from_env(&config, &[Topic::Orders])?;
        Ok(Self {
            orders: DynamoOrders::new(config.dynamodb(), &config.table_name).with_relay(relay),
            verifier: keys::verifier_from_env()?,
            cursor_key: CursorKey::from_env()?,
        })
    }
}
