// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use quiet_core::{
    config,
    events::Topic,
    store::{DynamoOutbox, Relay},
    Config,
};
use relay_outbox::{handle, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        outbox: DynamoOutbox::new(config.dynamodb(), &config.table_name),
        relay: Relay::from_env(&config, &Topic::ALL)?,
        resend_after: config::seconds(&config::env, "OUTBOX_RESEND_AFTER", 60)?,
    };
    quiet_core::worker::run_scheduled(|| handle(&deps, quiet_core::clock::now_ms())).await
}
