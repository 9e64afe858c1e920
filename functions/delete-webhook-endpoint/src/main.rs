#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::WebhookAdmin::from_env()?;
    quiet_core::http::run(|req| delete_webhook_endpoint::handler(&deps, req)).await
}
