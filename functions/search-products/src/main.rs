use quiet_core::{
    store::{DynamoProducts, DynamoSearchLog},
    Config,
};
use search_products::{handler, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps::new(
        DynamoProducts::new(dynamodb.clone(), &config.table_name),
        DynamoSearchLog::new(dynamodb, &config.table_name),
        quiet_core::config::cursor_key()?,
    );
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
