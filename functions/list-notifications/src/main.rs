use list_notifications::{handler, Deps};
use quiet_core::{auth::keys, store::DynamoNotifications, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let deps = Deps {
        notifications: DynamoNotifications::new(config.dynamodb(), &config.table_name),
        verifier: keys::verifier_from_env()?,
        cursor_key: quiet_core::config::cursor_key()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
