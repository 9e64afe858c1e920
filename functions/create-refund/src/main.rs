#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::RefundAdmin::from_env()?;
    quiet_core::http::run(|req| create_refund::handler(&deps, req)).await
}
