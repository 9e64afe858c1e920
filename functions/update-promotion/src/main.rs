use quiet_core::{auth::keys, store::DynamoPromotions, Config};
use update_promotion::{handler, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        promotions: DynamoPromotions::new(dynamodb, &config.table_name),
        verifier: keys::verifier_from_env()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
