use quiet_core::{store::DynamoUsers, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let users = DynamoUsers::new(config.dynamodb(), &config.table_name);
    quiet_core::http::run(|req| register::handler(&users, req)).await
}
