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
    pub trust: Trust,
}

/// Which root certificates the AWS clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The roots AWS service endpoints chain to ([`AWS_ROOTS`]). The
    /// default: parsing the platform's ~140 roots was 85% of a cold start's
    /// instructions (docs/PERFORMANCE-WHY.md), these five cost almost
    /// nothing.
    AwsRoots,
    /// The platform store, when the operator points at one with
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` (a proxy or private CA in between).
    Platform,
}

/// Amazon Trust Services Root CA 1-4 and Starfield Services Root G2, which
/// cross-signs them: every AWS service endpoint's chain ends in one of these.
pub const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.crt");

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
            trust: if get("SSL_CERT_FILE").is_some() || get("SSL_CERT_DIR").is_some() {
                Trust::Platform
            } else {
                Trust::AwsRoots
            },
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
        if self.trust == Trust::AwsRoots {
            // Every client made from this config (the credential chain's
            // STS client included) shares it, so the platform store is
            // never read.
            loader = loader.http_client(aws_roots_client());
        }
        loader.load().await
    }

    /// The DynamoDB client, built once per cold start and shared by every
    /// invocation.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk().await)
    }
}

/// An HTTPS client (rustls with aws-lc, as the SDK's default) trusting only
/// [`AWS_ROOTS`]. The certificates are parsed when a client first uses it.
fn aws_roots_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        // Only fails for a trust store the TLS provider cannot use; ours is
        // a constant, checked by a test.
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
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
        assert_eq!(config.trust, Trust::AwsRoots);
    }

    #[test]
    fn an_operator_certificate_store_means_the_platform_roots() {
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            let config = Config::from_lookup(env(&[
                ("TABLE_NAME", "quiet"),
                ("AWS_REGION", "eu-west-1"),
                (var, "/etc/pki/tls/certs/ca-bundle.crt"),
            ]))
            .expect("valid config");
            assert_eq!(config.trust, Trust::Platform, "{var}");
        }
    }

    #[test]
    fn the_aws_roots_are_five_well_formed_certificates() {
        use base64::{engine::general_purpose::STANDARD, Engine as _};
        let text = std::str::from_utf8(AWS_ROOTS).expect("ASCII");
        let ders: Vec<Vec<u8>> = text
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body = block
                    .split("-----END CERTIFICATE-----")
                    .next()
                    .expect("end marker");
                let b64: String = body.split_whitespace().collect();
                STANDARD.decode(b64).expect("base64")
            })
            .collect();
        assert_eq!(ders.len(), 5);
        for der in &ders {
            // A DER SEQUENCE with a two-byte length that covers the rest.
            assert_eq!(&der[..2], &[0x30, 0x82]);
            assert_eq!(
                usize::from(der[2]) << 8 | usize::from(der[3]),
                der.len() - 4
            );
        }
        // The client builds from them (the TLS provider parses them when a
        // client first uses it, which the local stack's tests exercise).
        let _client = aws_roots_client();
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
