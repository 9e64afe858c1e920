use openapi::{handler, Deps, SERVED};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = Deps { document: SERVED };
    quiet_core::http::run_unlimited(|req| handler(&deps, req)).await
}
