#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    // A static page: no rate limit, like the OpenAPI document it shows.
    quiet_core::http::run_unlimited(docs::handler).await
}
