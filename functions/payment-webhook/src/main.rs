use payment_webhook::{handler, Deps};
use quiet_core::{
    config,
    events::Topic,
    payments::SignedWebhooks,
    store::{DynamoOrders, Relay},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let secret = config::required(&config::env, "PAYMENT_WEBHOOK_SECRET")?;
    let relay = Relay::from_env(&config, &[Topic::Orders, Topic::Webhooks])?;
    let deps = Deps {
        orders: DynamoOrders::new(config.dynamodb(), &config.table_name).with_relay(relay),
        provider: SignedWebhooks::new(&secret)?,
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
