use quiet_core::{auth::keys, store::DynamoSessions, Config};
use refresh::{handler, Deps};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let sdk = config.sdk();
    let deps = Deps {
        sessions: DynamoSessions::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
        signer: keys::PendingSigner::prefetch_from_env(sdk)?,
    };
    quiet_core::http::run_public(|req| handler(&deps, req)).await
}
