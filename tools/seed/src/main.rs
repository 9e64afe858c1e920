//! Seeds the local stack: the catalog from `catalog.json`, the demo shop's
//! tax rates from `tax-rates.json` (the countries it ships to) and one admin,
//! through the same stores the functions use, so key shapes stay in one
//! place. Safe to run again: what exists is left as it is.
//!
//! The admin is `admin@quiet.local` / `quiet-admin-password` unless
//! `QUIET_ADMIN_EMAIL` / `QUIET_ADMIN_PASSWORD` say otherwise. These are
//! local-only credentials: nothing deploys this tool.

use std::collections::BTreeMap;

use quiet_core::{
    auth::{password, Email, Password, Role, UserId},
    clock::now_rfc3339,
    domain::{address::Country, tax::CountryRates},
    store::{
        users::UserName, DynamoProducts, DynamoTaxes, DynamoUsers, NewProduct, ProductStore,
        StoreError, TaxStore, User, UserStore,
    },
    Config,
};

const CATALOG: &str = include_str!("../catalog.json");
/// Demo rates (standard VAT/GST, a few US states), not tax advice.
const TAX_RATES: &str = include_str!("../tax-rates.json");

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let now = now_rfc3339();

    let store = DynamoProducts::new(dynamodb.clone(), &config.table_name);
    let products: Vec<NewProduct> = serde_json::from_str(CATALOG)?;
    let (mut created, mut existing) = (0, 0);
    for product in &products {
        match store.create(product, &now).await {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists) => existing += 1,
            Err(err) => return Err(err.into()),
        }
    }
    println!("seed: {created} products created, {existing} already present");

    // Rates are set, not created: a rerun puts the demo rates back.
    let taxes = DynamoTaxes::new(dynamodb.clone(), &config.table_name);
    let rates: BTreeMap<Country, CountryRates> = serde_json::from_str(TAX_RATES)?;
    for (country, rates) in &rates {
        taxes.put(country, rates, &now).await?;
    }
    println!("seed: tax rates for {} countries", rates.len());

    let users = DynamoUsers::new(dynamodb, &config.table_name);
    let email = Email::try_from(setting("QUIET_ADMIN_EMAIL", "admin@quiet.local"))?;
    let secret = Password::try_from(setting("QUIET_ADMIN_PASSWORD", "quiet-admin-password"))?;
    let admin = User {
        id: UserId::generate(),
        email: email.clone(),
        name: UserName::try_from("Shop Admin".to_string())?,
        role: Role::Admin,
        created_at: now,
    };
    match users.create(&admin, &password::hash(&secret)?).await {
        Ok(()) => println!("seed: admin {} created", email.as_str()),
        Err(StoreError::AlreadyExists) => {
            println!("seed: admin {} already present", email.as_str())
        }
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
