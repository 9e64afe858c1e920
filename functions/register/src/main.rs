use quiet_core::{
    store::{DynamoIdempotency, DynamoUsers},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let users = DynamoUsers::new(dynamodb.clone(), &config.table_name);
    let idempotency = DynamoIdempotency::new(dynamodb, &config.table_name);
    quiet_core::http::run_public(|req| register::handler(&users, &idempotency, req)).await
}
