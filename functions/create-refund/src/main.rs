use create_refund::{handler, Deps};
use quiet_core::{
    auth::keys,
    events::Topic,
    store::{DynamoIdempotency, DynamoOrders, Relay},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        orders: DynamoOrders::new(dynamodb.clone(), &config.table_name).with_relay(
            Relay::from_env(&config, &[Topic::Refunds, Topic::Webhooks])?,
        ),
        idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
        verifier: keys::verifier_from_env()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
