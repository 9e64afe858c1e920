//! Dependency bundles that several functions share, built once at init.

use crate::{
    auth::{keys, TokenVerifier},
    store::DynamoProducts,
    Config,
};

/// What the admin catalog functions need: the product store and the
/// token verifier (each checks the caller's role itself).
pub struct CatalogAdmin<P> {
    pub products: P,
    pub verifier: TokenVerifier,
}

impl CatalogAdmin<DynamoProducts> {
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self {
            products: DynamoProducts::new(config.dynamodb().await, &config.table_name),
            verifier: keys::verifier_from_env()?,
        })
    }
}
