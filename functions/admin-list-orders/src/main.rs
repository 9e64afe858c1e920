#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = quiet_core::deps::Paging::from_env(quiet_core::deps::Orders::from_env()?)?;
    quiet_core::http::run(|req| admin_list_orders::handler(&deps, req)).await
}
