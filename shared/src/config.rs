//! Settings, read once at cold start. A missing or malformed setting fails
//! init loudly instead of surfacing as a 500 on some later request.

use crate::domain::cursor::CursorKey;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Settings every DynamoDB-backed function needs. Function-specific
/// settings (cursor key, token keys) have their own `from_env` helpers, so
/// a function reads only what it uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub region: String,
    /// Only set locally (the emulator); in AWS the SDK resolves endpoints.
    pub endpoint_url: Option<String>,
}

/// Reads a required setting: present and not blank.
pub fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    get(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A duration setting in whole seconds (1..=86400), or `default` if unset.
pub fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<std::time::Duration, ConfigError> {
    let value = match get(name).filter(|v| !v.trim().is_empty()) {
        None => default,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|secs| (1..=86_400).contains(secs))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: "must be a whole number of seconds from 1 to 86400".into(),
            })?,
    };
    Ok(std::time::Duration::from_secs(value))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env)
    }

    /// The seam that lets tests supply an environment without mutating the
    /// process's (which is shared between parallel tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(&get, "TABLE_NAME")?,
            region: required(&get, "AWS_REGION")?,
            endpoint_url: get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()),
        })
    }

    /// Shared SDK configuration, loaded once per cold start. Region is
    /// explicit so init never probes for it.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()));
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }

    /// The DynamoDB client, built once per cold start and shared by every
    /// invocation.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk().await)
    }
}

impl CursorKey {
    /// `CURSOR_SECRET`: the page-cursor signing key (32+ bytes).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        const NAME: &str = "CURSOR_SECRET";
        Self::from_secret(&required(&get, NAME)?).map_err(|reason| ConfigError::Invalid {
            name: NAME,
            reason: reason.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_a_complete_environment() {
        let config =
            Config::from_lookup(env(&[("TABLE_NAME", "quiet"), ("AWS_REGION", "eu-west-1")]))
                .expect("valid config");
        assert_eq!(config.table_name, "quiet");
        assert_eq!(config.endpoint_url, None);
    }

    #[test]
    fn names_the_missing_variable() {
        let err = Config::from_lookup(env(&[("AWS_REGION", "x"), ("TABLE_NAME", " ")]))
            .expect_err("table name blank");
        assert_eq!(
            err.to_string(),
            "environment variable TABLE_NAME is not set"
        );
    }

    #[test]
    fn durations_default_and_reject_nonsense() {
        let get = env(&[("TTL", "90"), ("ZERO", "0"), ("TEXT", "15m")]);
        assert_eq!(
            seconds(&get, "TTL", 900).ok(),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            seconds(&get, "UNSET", 900).ok(),
            Some(std::time::Duration::from_secs(900))
        );
        assert!(seconds(&get, "ZERO", 900).is_err());
        assert!(seconds(&get, "TEXT", 900).is_err());
    }

    #[test]
    fn rejects_a_short_cursor_secret() {
        let err = CursorKey::from_lookup(env(&[("CURSOR_SECRET", "short")])).err();
        assert!(err.is_some_and(|e| e.to_string().contains("CURSOR_SECRET")));
    }
}
