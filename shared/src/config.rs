//! Settings, read once at cold start. A missing or malformed setting fails
//! init loudly instead of surfacing as a 500 on some later request.

use aws_sdk_dynamodb::config::{
    retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Credentials, Region,
    SharedCredentialsProvider,
};
use aws_types::SdkConfig;

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
    sdk: SdkConfig,
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
    /// Read once per process: every store and the rate limiter of a
    /// function share one SDK config, so one HTTPS client and connection
    /// pool (a second would cost a cold start a second TLS handshake).
    pub fn from_env() -> Result<Self, ConfigError> {
        static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(config.clone());
        }
        let config = Self::from_lookup(env)?;
        Ok(CONFIG.get_or_init(|| config).clone())
    }

    /// The seam that lets tests supply an environment without mutating the
    /// process's (which is shared between parallel tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = required(&get, "TABLE_NAME")?;
        let region = required(&get, "AWS_REGION")?;
        let endpoint_url = get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty());
        let trust = if get("SSL_CERT_FILE").is_some() || get("SSL_CERT_DIR").is_some() {
            Trust::Platform
        } else {
            Trust::AwsRoots
        };
        // Lambda hands every function its role's credentials in these three
        // variables (valid for the execution environment's lifetime), and
        // the local stack sets the first two; nothing else is ever needed,
        // so there is no credential chain to walk at init.
        let credentials = Credentials::new(
            required(&get, "AWS_ACCESS_KEY_ID")?,
            required(&get, "AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
            None,
            "environment",
        );
        let mut sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            // Spelled out rather than left to the behavior version: three
            // attempts with backoff, and a connection that is not up in
            // 3.1 s is retried instead of waited on.
            .retry_config(RetryConfig::standard())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_millis(3100))
                    .build(),
            );
        if let Some(url) = &endpoint_url {
            sdk = sdk.endpoint_url(url);
        }
        // The SDK's own default HTTPS client is not linked (it brings
        // aws-lc): every client uses this one.
        sdk = sdk.http_client(https_client(trust));
        Ok(Self {
            table_name,
            region,
            endpoint_url,
            trust,
            sdk: sdk.build(),
        })
    }

    /// The SDK settings every client of this function is built from: one
    /// HTTPS client (and connection pool) for all of them.
    ///
    /// Built from the environment alone, not with aws-config's loader: in
    /// Lambda its provider chains (profile files, SSO, IMDS, an STS client)
    /// only ever end at the environment variables read above, and they were
    /// ~0.4 MB of every binary and a slice of every cold start
    /// (docs/PERFORMANCE-WHY.md).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The DynamoDB client, built once per cold start and shared by every
    /// invocation.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
}

/// The HTTPS client every AWS client of a function shares: rustls on ring
/// (with aws-lc, the SDK's default, arm64 binaries were 1.3 MB larger:
/// get-product 6.72 -> 5.42 MB, login 7.98 -> 6.66 MB;
/// docs/PERFORMANCE.md), trusting [`AWS_ROOTS`] or the platform store. The
/// certificates are parsed when a client first uses it.
pub fn https_client(trust: Trust) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let store = match trust {
        Trust::AwsRoots => TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AWS_ROOTS),
        // rustls-native-certs: SSL_CERT_FILE / SSL_CERT_DIR, else the OS's.
        Trust::Platform => TrustStore::default(),
    };
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        // Only fails for a trust store the TLS provider cannot use; ours is
        // a constant, checked by a test.
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// Whether catalog prices include tax (`PRICES_INCLUDE_TAX=true`): a
/// setting of the shop, the same for every function that prices.
pub fn prices_include_tax() -> Result<bool, ConfigError> {
    match env("PRICES_INCLUDE_TAX").as_deref().map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError::Invalid {
            name: "PRICES_INCLUDE_TAX",
            reason: "must be true or false".into(),
        }),
    }
}

/// `CURSOR_SECRET`: the page-cursor signing key (32+ bytes).
pub fn cursor_key() -> Result<CursorKey, ConfigError> {
    cursor_key_from_lookup(env)
}

pub fn cursor_key_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<CursorKey, ConfigError> {
    const NAME: &str = "CURSOR_SECRET";
    CursorKey::from_secret(&required(&get, NAME)?).map_err(|reason| ConfigError::Invalid {
        name: NAME,
        reason: reason.to_string(),
    })
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
        let config = Config::from_lookup(env(&[
            ("TABLE_NAME", "quiet"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
        ]))
        .expect("valid config");
        assert_eq!(config.table_name, "quiet");
        assert_eq!(config.endpoint_url, None);
        assert_eq!(config.trust, Trust::AwsRoots);
        assert_eq!(config.sdk().region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.sdk().credentials_provider().is_some());
        assert!(config.sdk().http_client().is_some(), "the AWS roots client");
    }

    #[test]
    fn refuses_to_start_without_credentials() {
        let err = Config::from_lookup(env(&[
            ("TABLE_NAME", "quiet"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
        ]))
        .expect_err("no access key id");
        assert_eq!(
            err.to_string(),
            "environment variable AWS_ACCESS_KEY_ID is not set"
        );
    }

    #[tokio::test]
    async fn signs_with_the_session_credentials_lambda_provides() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let config = Config::from_lookup(env(&[
            ("TABLE_NAME", "quiet"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .expect("valid config");
        let credentials = config
            .sdk()
            .credentials_provider()
            .expect("a provider")
            .provide_credentials()
            .await
            .expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn an_operator_certificate_store_means_the_platform_roots() {
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            let config = Config::from_lookup(env(&[
                ("TABLE_NAME", "quiet"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "example"),
                (var, "/etc/pki/tls/certs/ca-bundle.crt"),
            ]))
            .expect("valid config");
            assert_eq!(config.trust, Trust::Platform, "{var}");
            assert!(config.sdk().http_client().is_some(), "{var}");
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
        let _client = https_client(Trust::AwsRoots);
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
        let err = cursor_key_from_lookup(env(&[("CURSOR_SECRET", "short")])).err();
        assert!(err.is_some_and(|e| e.to_string().contains("CURSOR_SECRET")));
    }
}
