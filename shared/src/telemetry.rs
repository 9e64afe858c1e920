//! Logging setup and the correlation id of the work in hand.
//!
//! Lambda's own subscriber honours `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG` and
//! switches to JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (set by the
//! template and by the local stack), so we do not hand-roll one.
//!
//! The correlation id rides in a task-local set by the HTTP edge (from
//! `x-correlation-id`) and by the worker edge (from the SQS message
//! attribute), so the outbox can stamp it on every event a request causes
//! without threading it through each store call.

use std::future::Future;

pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}

tokio::task_local! {
    static CORRELATION_ID: String;
}

/// Runs `work` with `id` as its correlation id.
pub async fn with_correlation_id<F: Future>(id: String, work: F) -> F::Output {
    CORRELATION_ID.scope(id, work).await
}

/// The correlation id of the current request or message, if any.
pub fn correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(Clone::clone).ok()
}
