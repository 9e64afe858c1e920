#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::TaxAdmin::from_env()?;
    quiet_core::http::run(|req| put_tax_rate::handler(&deps, req)).await
}
