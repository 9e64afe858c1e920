use jwks::{handler, Deps};
use quiet_core::{auth::keys, config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    quiet_core::telemetry::init();
    let deps = Deps {
        jwks: keys::parse_jwks(&config::required(&config::env, "JWT_JWKS")?)?,
    };
    quiet_core::http::run_unlimited(|req| handler(&deps, req)).await
}
