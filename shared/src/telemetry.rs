//! Logging setup and the correlation id of the work in hand.
//!
//! Logs follow Lambda's advanced logging controls: the level from
//! `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO), JSON lines when
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (set by the template and by the local
//! stack), no timestamps (CloudWatch adds them), no targets.
//!
//! The correlation id rides in a task-local set by the HTTP edge (from
//! `x-correlation-id`) and by the worker edge (from the SQS message
//! attribute), so the outbox can stamp it on every event a request causes
//! without threading it through each store call.

use std::future::Future;

use lambda_http::tracing::subscriber::{filter::LevelFilter, fmt};

/// lambda_runtime's `init_default_subscriber`, with a plain level where it
/// has an `EnvFilter`: the filter's directive parser and regex engine were
/// a few hundred kB of every binary, for per-module directives in
/// `RUST_LOG` that Lambda's logging controls (one level) cannot express.
pub fn init() {
    let level = log_level(|name| std::env::var(name).ok());
    let logs = fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

fn log_level(get: impl Fn(&str) -> Option<String>) -> LevelFilter {
    get("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| get("RUST_LOG"))
        .and_then(|level| level.trim().parse().ok())
        .unwrap_or(LevelFilter::INFO)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn level(pairs: &[(&str, &str)]) -> LevelFilter {
        log_level(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn lambdas_log_level_wins_then_rust_log_then_info() {
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")]),
            LevelFilter::WARN
        );
        assert_eq!(level(&[("RUST_LOG", "debug")]), LevelFilter::DEBUG);
        assert_eq!(level(&[]), LevelFilter::INFO);
        // A directive list is not a level: the default, not a failed init.
        assert_eq!(
            level(&[("RUST_LOG", "info,hyper=debug")]),
            LevelFilter::INFO
        );
    }
}
