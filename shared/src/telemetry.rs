//! Logging setup. Lambda's own subscriber honours `AWS_LAMBDA_LOG_LEVEL` /
//! `RUST_LOG` and switches to JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`
//! (set by the template and by the local stack), so we do not hand-roll one.

pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
