#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    quiet_core::http::run_unlimited(|req| openapi::handler(openapi::SERVED, req)).await
}
