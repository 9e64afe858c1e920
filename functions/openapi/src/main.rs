#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let document = openapi::document();
    quiet_core::http::run(|req| openapi::handler(&document, req)).await
}
