//! Seeds the local catalog from `catalog.json` through the same store the
//! functions use, so key shapes stay in one place. Safe to run again:
//! products that exist are left as they are.

use quiet_core::{
    store::{DynamoProducts, NewProduct, ProductStore, StoreError},
    Config,
};

const CATALOG: &str = include_str!("../catalog.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let store = DynamoProducts::new(config.dynamodb().await, &config.table_name);
    let products: Vec<NewProduct> = serde_json::from_str(CATALOG)?;
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let (mut created, mut existing) = (0, 0);
    for product in &products {
        match store.create(product, &now).await {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists) => existing += 1,
            Err(err) => return Err(err.into()),
        }
    }
    println!("seed: {created} products created, {existing} already present");
    Ok(())
}
