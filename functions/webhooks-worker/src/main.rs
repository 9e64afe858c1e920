// The SDK futures nested in the worker runtime are deeper than the default
// limit allows rustc to lay out.
#![recursion_limit = "256"]

use quiet_core::{
    config,
    store::{DynamoOrders, DynamoOutbox, DynamoWebhooks},
    webhooks::Guard,
    Config,
};
use webhooks_worker::{handle, Deps, HttpSender, Retries, Schedule};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let guard = Guard::from_env()?;
    let deps = Deps {
        webhooks: DynamoWebhooks::new(dynamodb.clone(), &config.table_name),
        orders: DynamoOrders::new(dynamodb.clone(), &config.table_name),
        outbox: DynamoOutbox::new(dynamodb, &config.table_name),
        sender: HttpSender::new(guard).map_err(|e| format!("webhook client: {e}"))?,
        retries: Retries::Sqs {
            client: aws_sdk_sqs::Client::new(config.sdk()),
            queue_url: config::required(&config::env, "WEBHOOK_EVENTS_QUEUE_URL")?,
            schedule: Schedule::from_env()?,
        },
    };
    quiet_core::worker::run_sqs(|event, delivery| handle(&deps, event, delivery)).await
}
