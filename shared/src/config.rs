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

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub region: String,
    /// Only set locally (the emulator); in AWS the SDK resolves endpoints.
    pub endpoint_url: Option<String>,
    pub cursor_key: CursorKey,
}

impl std::fmt::Debug for Config {
    // Hand-written so the cursor key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The seam that lets tests supply an environment without mutating the
    /// process's (which is shared between parallel tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let cursor_key = CursorKey::from_secret(&required("CURSOR_SECRET")?).map_err(|reason| {
            ConfigError::Invalid {
                name: "CURSOR_SECRET",
                reason: reason.to_string(),
            }
        })?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            region: required("AWS_REGION")?,
            endpoint_url: get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()),
            cursor_key,
        })
    }

    /// The DynamoDB client, built once per cold start and shared by every
    /// invocation. Region is explicit so init never probes for it.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()));
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        aws_sdk_dynamodb::Client::new(&loader.load().await)
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

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_a_complete_environment() {
        let config = Config::from_lookup(env(&[
            ("TABLE_NAME", "quiet"),
            ("AWS_REGION", "eu-west-1"),
            ("CURSOR_SECRET", SECRET),
        ]))
        .expect("valid config");
        assert_eq!(config.table_name, "quiet");
        assert_eq!(config.endpoint_url, None);
    }

    #[test]
    fn names_the_missing_variable() {
        let err = Config::from_lookup(env(&[("AWS_REGION", "x"), ("CURSOR_SECRET", SECRET)]))
            .expect_err("table name missing");
        assert_eq!(
            err.to_string(),
            "environment variable TABLE_NAME is not set"
        );
    }

    #[test]
    fn rejects_a_short_cursor_secret() {
        let err = Config::from_lookup(env(&[
            ("TABLE_NAME", "t"),
            ("AWS_REGION", "x"),
            ("CURSOR_SECRET", "short"),
        ]))
        .expect_err("short secret");
        assert!(err.to_string().contains("CURSOR_SECRET"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_cursor_key() {
        let config = Config::from_lookup(env(&[
            ("TABLE_NAME", "t"),
            ("AWS_REGION", "x"),
            ("CURSOR_SECRET", SECRET),
        ]))
        .expect("valid config");
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
