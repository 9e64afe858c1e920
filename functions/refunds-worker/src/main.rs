// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use quiet_core::{
    config,
    payments::SignedWebhooks,
    store::{DynamoOrders, DynamoOutbox},
    Config,
};
use refunds_worker::{handle, Deps, HttpProvider};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    // Its own secret, not the one the provider signs webhooks with: a
    // leaked request key must not also forge payment events, and back.
    let signer = SignedWebhooks::new(&config::required(&config::env, "REFUND_REQUEST_SECRET")?)?;
    let deps = Deps {
        orders: DynamoOrders::new(dynamodb.clone(), &config.table_name),
        outbox: DynamoOutbox::new(dynamodb, &config.table_name),
        provider: HttpProvider::new(
            &config::required(&config::env, "REFUND_PROVIDER_URL")?,
            signer,
        )?,
    };
    quiet_core::worker::run_sqs(|event, delivery| handle(&deps, event, delivery)).await
}
