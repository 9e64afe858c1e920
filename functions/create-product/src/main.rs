#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::CatalogAdmin::from_env()?.with_relay()?;
    quiet_core::http::run(|req| create_product::handler(&deps, req)).await
}
