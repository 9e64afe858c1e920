use export_account::{handler, Deps};
use quiet_core::{
    auth::keys,
    store::{DynamoCarts, DynamoNotifications, DynamoOrders, DynamoSessions, DynamoUsers},
    Config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let config = Config::from_env()?;
    let dynamodb = config.dynamodb();
    let table = &config.table_name;
    let deps = Deps {
        users: DynamoUsers::new(dynamodb.clone(), table),
        orders: DynamoOrders::new(dynamodb.clone(), table),
        carts: DynamoCarts::new(dynamodb.clone(), table),
        notifications: DynamoNotifications::new(dynamodb.clone(), table),
        sessions: DynamoSessions::new(dynamodb, table),
        verifier: keys::verifier_from_env()?,
    };
    quiet_core::http::run(|req| handler(&deps, req)).await
}
