use list_products::{handler, Deps};
use quiet_core::{store::DynamoProducts, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        store: DynamoProducts::new(config.dynamodb(), &config.table_name),
        cursor_key: quiet_core::config::cursor_key()?,
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
