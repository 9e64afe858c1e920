// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use erasure_worker::{handle, Deps};
use quiet_core::{
    store::{DynamoErasures, DynamoOutbox},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        erasures: DynamoErasures::new(dynamodb.clone(), &config.table_name),
        outbox: DynamoOutbox::new(dynamodb, &config.table_name),
    };
    quiet_core::worker::run_sqs(|event, delivery| handle(&deps, event, delivery)).await
}
