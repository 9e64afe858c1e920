use get_erasure::{handler, Deps};
use quiet_core::{store::DynamoErasures, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        erasures: DynamoErasures::new(config.dynamodb(), &config.table_name),
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
