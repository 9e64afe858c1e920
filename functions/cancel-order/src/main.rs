#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::Orders::publishing_from_env()?;
    quiet_core::http::run(|req| cancel_order::handler(&deps, req)).await
}
