// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use expire_orders::{handle, Deps};
use quiet_core::{
    config,
    events::Topic,
    store::{DynamoOrders, Relay},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let relay = Relay::from_env(&config, &[Topic::Orders, Topic::Webhooks])?;
    let deps = Deps {
        orders: DynamoOrders::new(config.dynamodb(), &config.table_name).with_relay(relay),
        payment_ttl: config::seconds(&config::env, "ORDER_PAYMENT_TTL", 900)?,
    };
    quiet_core::worker::run_scheduled(|| handle(&deps, quiet_core::clock::now_ms())).await
}
