use get_product::{handler, Deps};
use quiet_core::{store::DynamoProducts, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        products: DynamoProducts::new(config.dynamodb(), &config.table_name),
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
