use erase_account::{handler, Deps};
use quiet_core::{
    auth::keys,
    events::Topic,
    store::{DynamoErasures, DynamoUsers, Relay},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let deps = Deps {
        users: DynamoUsers::new(dynamodb.clone(), &config.table_name),
        erasures: DynamoErasures::new(dynamodb, &config.table_name)
            .with_relay(Relay::from_env(&config, &[Topic::Accounts])?),
        verifier: keys::verifier_from_env()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
