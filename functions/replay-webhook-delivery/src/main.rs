#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::WebhookAdmin::from_env()?.with_relay()?;
    quiet_core::http::run(|req| replay_webhook_delivery::handler(&deps, req)).await
}
