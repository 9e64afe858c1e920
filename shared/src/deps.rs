//! Dependency bundles that several functions share, built once at init.

use crate::{
    auth::{keys, TokenVerifier},
    domain::CursorKey,
    events::Topic,
    store::{
        DynamoCarts, DynamoCheckout, DynamoIdempotency, DynamoOrders, DynamoPricing,
        DynamoProducts, DynamoPromotions, DynamoTaxes, DynamoWebhooks, Relay,
    },
    webhooks::Guard,
    Config,
};

/// What the admin catalog functions need: the product store and the
/// token verifier (each checks the caller's role itself).
pub struct CatalogAdmin<P> {
    pub products: P,
    pub idempotency: DynamoIdempotency,
    pub verifier: TokenVerifier,
}

impl CatalogAdmin<DynamoProducts> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            products: DynamoProducts::new(dynamodb.clone(), &config.table_name),
            idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }

    /// Catalog edits send their `product.changed` event to the catalog
    /// queue right after commit (stock adjustments send none).
    pub fn with_relay(self) -> Result<Self, crate::config::ConfigError> {
        let relay = Relay::from_env(&Config::from_env()?, &[Topic::Catalog])?;
        Ok(Self {
            products: self.products.with_relay(relay),
            ..self
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

/// What reading the cart needs: its products and, for a tax estimate, a
/// destination's rates come from one read.
pub struct CartReader<C, L> {
    pub carts: C,
    pub pricing: L,
    pub verifier: TokenVerifier,
    pub prices_include_tax: bool,
}

impl CartReader<DynamoCarts, DynamoPricing> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            pricing: DynamoPricing::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
            prices_include_tax: prices_include_tax()?,
        })
    }
}

/// What the admin tax function needs.
pub struct TaxAdmin<T> {
    pub taxes: T,
    pub verifier: TokenVerifier,
}

impl TaxAdmin<DynamoTaxes> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self {
            taxes: DynamoTaxes::new(config.dynamodb(), &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// Whether catalog prices include tax (`PRICES_INCLUDE_TAX=true`): a
/// setting of the shop, the same for every function that prices.
pub fn prices_include_tax() -> Result<bool, crate::config::ConfigError> {
    match crate::config::env("PRICES_INCLUDE_TAX")
        .as_deref()
        .map(str::trim)
    {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(crate::config::ConfigError::Invalid {
            name: "PRICES_INCLUDE_TAX",
            reason: "must be true or false".into(),
        }),
    }
}

/// What checkout needs.
pub struct Checkout<K, C, L> {
    pub checkout: K,
    pub carts: C,
    /// Products, promotion and tax rates, in one read.
    pub pricing: L,
    pub verifier: TokenVerifier,
    pub prices_include_tax: bool,
}

impl Checkout<DynamoCheckout, DynamoCarts, DynamoPricing> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        let relay = Relay::from_env(&config, &[Topic::Orders, Topic::Webhooks])?;
        Ok(Self {
            checkout: DynamoCheckout::new(dynamodb.clone(), &config.table_name).with_relay(relay),
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            pricing: DynamoPricing::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
            prices_include_tax: prices_include_tax()?,
        })
    }
}

/// What the admin promotion functions need.
pub struct PromotionAdmin<R> {
    pub promotions: R,
    pub idempotency: DynamoIdempotency,
    pub verifier: TokenVerifier,
}

impl PromotionAdmin<DynamoPromotions> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            promotions: DynamoPromotions::new(dynamodb.clone(), &config.table_name),
            idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the admin webhook functions need. `guard` checks an endpoint's URL
/// at registration, as the webhooks worker does again at delivery.
pub struct WebhookAdmin<W> {
    pub webhooks: W,
    pub idempotency: DynamoIdempotency,
    pub verifier: TokenVerifier,
    pub guard: Guard,
}

impl WebhookAdmin<DynamoWebhooks> {
    /// Without a relay: only replaying publishes (see [`Self::with_relay`]).
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            webhooks: DynamoWebhooks::new(dynamodb.clone(), &config.table_name),
            idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
            guard: Guard::from_env()?,
        })
    }

    /// Replay requests are sent to the webhooks queue right after commit.
    pub fn with_relay(self) -> Result<Self, crate::config::ConfigError> {
        let relay = Relay::from_env(&Config::from_env()?, &[Topic::Webhooks])?;
        Ok(Self {
            webhooks: self.webhooks.with_relay(relay),
            ..self
        })
    }
}

/// What the cart's promotion functions need: the cart's products and its
/// promotion come from one read (`pricing`); `promotions` answers whether a
/// customer already used a once-per-customer code.
pub struct CartPromotions<C, L, R> {
    pub carts: C,
    pub pricing: L,
    pub promotions: R,
    pub verifier: TokenVerifier,
}

impl CartPromotions<DynamoCarts, DynamoPricing, DynamoPromotions> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            carts: DynamoCarts::new(dynamodb.clone(), &config.table_name),
            pricing: DynamoPricing::new(dynamodb.clone(), &config.table_name),
            promotions: DynamoPromotions::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the refund function needs: the orders (publishing refunds to the
/// refunds queue) and the idempotency records.
pub struct RefundAdmin<O, I> {
    pub orders: O,
    pub idempotency: I,
    pub verifier: TokenVerifier,
}

impl RefundAdmin<DynamoOrders, DynamoIdempotency> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        let relay = Relay::from_env(&config, &[Topic::Refunds, Topic::Webhooks])?;
        Ok(Self {
            orders: DynamoOrders::new(dynamodb.clone(), &config.table_name).with_relay(relay),
            idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// What the order functions need (customers' and staff's alike).
pub struct Orders<O> {
    pub orders: O,
    /// For the functions that change an order (`Idempotency-Key`).
    pub idempotency: DynamoIdempotency,
    pub verifier: TokenVerifier,
}

impl Orders<DynamoOrders> {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        Ok(Self {
            orders: DynamoOrders::new(dynamodb.clone(), &config.table_name),
            idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }

    /// For functions that change an order: its event is relayed to the
    /// order events queue right after the commit.
    pub fn publishing_from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = config.dynamodb();
        let relay = Relay::from_env(&config, &[Topic::Orders, Topic::Webhooks])?;
        Ok(Self {
            idempotency: DynamoIdempotency::new(dynamodb.clone(), &config.table_name),
            orders: DynamoOrders::new(dynamodb, &config.table_name).with_relay(relay),
            verifier: keys::verifier_from_env()?,
        })
    }
}

/// A bundle and the key that signs page cursors, for the functions that
/// page: only they hold `CURSOR_SECRET` (a key nobody else needs is a key
/// nobody else can leak).
pub struct Paging<D> {
    pub deps: D,
    pub cursor_key: CursorKey,
}

impl<D> Paging<D> {
    pub fn from_env(deps: D) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            deps,
            cursor_key: crate::config::cursor_key()?,
        })
    }
}
