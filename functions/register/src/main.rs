use quiet_core::{
    store::{DynamoIdempotency, DynamoUsers},
    Config,
};
use register::{handler, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        users: DynamoUsers::new(dynamodb.clone(), &config.table_name),
        idempotency: DynamoIdempotency::new(dynamodb, &config.table_name),
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
