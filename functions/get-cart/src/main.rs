#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::CartReader::from_env()?;
    quiet_core::http::run(|req| get_cart::handler(&deps, req)).await
}
