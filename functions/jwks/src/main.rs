use quiet_core::{auth::keys, config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let jwks = keys::parse_jwks(&config::required(&config::env, "JWT_JWKS")?)?;
    quiet_core::http::run_unlimited(|req| jwks::handler(&jwks, req)).await
}
