use login::{handler, Deps};
use quiet_core::{
    auth::keys,
    store::{DynamoSessions, DynamoUsers},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let sdk = config.sdk();
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let deps = Deps {
        users: DynamoUsers::new(dynamodb.clone(), &config.table_name),
        sessions: DynamoSessions::new(dynamodb, &config.table_name),
        signer: keys::PendingSigner::prefetch_from_env(sdk)?,
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
