use list_promotions::{handler, Deps};
use quiet_core::{auth::keys, config, store::DynamoPromotions, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        promotions: DynamoPromotions::new(dynamodb, &config.table_name),
        verifier: keys::verifier_from_env()?,
        cursor_key: config::cursor_key()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
