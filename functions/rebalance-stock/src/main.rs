// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use quiet_core::{store::DynamoProducts, Config};
use rebalance_stock::{handle, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        products: DynamoProducts::new(config.dynamodb(), &config.table_name),
    };
    quiet_core::worker::run_scheduled(|| handle(&deps)).await
}
