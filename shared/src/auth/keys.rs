//! Token keys. The public keys are plain configuration, a JWKS document in
//! `JWT_JWKS` that every verifying function reads at init and the jwks
//! endpoint serves. The private key exists only in the token-issuing
//! functions: a JWK in an SSM SecureString named by
//! `JWT_SIGNING_KEY_PARAMETER`, fetched once, from init on (locally the
//! stack generates a key pair at start and stores it in the emulator's SSM,
//! so both paths run the same code).

use std::{collections::HashMap, sync::Mutex};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::jwt::{TokenScope, TokenSigner, TokenVerifier, ALG};
use crate::config::{env, required, ConfigError};

impl TokenScope {
    /// `JWT_ISSUER` and `JWT_AUDIENCE`: tokens from elsewhere are refused.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: required(get, "JWT_ISSUER")?,
            audience: required(get, "JWT_AUDIENCE")?,
        })
    }
}

/// The verifier every authenticated function builds at init.
pub fn verifier_from_env() -> Result<TokenVerifier, ConfigError> {
    verifier(
        &parse_jwks(&required(&env, "JWT_JWKS")?)?,
        TokenScope::from_lookup(&env)?,
    )
}

/// The signer of the token-issuing functions, fetched in the background
/// from init on. Awaited at init, the SSM round trip (on a cold start a
/// TLS handshake too) was most of login's and refresh's init; started at
/// init and awaited where a token is signed, it overlaps the runtime's
/// start and the request's own reads and password work. A failed fetch is
/// tried again by the next request that needs the key.
pub struct PendingSigner {
    ssm: aws_sdk_ssm::Client,
    parameter: String,
    scope: TokenScope,
    first: Mutex<Option<tokio::task::JoinHandle<Result<TokenSigner, ConfigError>>>>,
    ready: tokio::sync::OnceCell<TokenSigner>,
}

impl PendingSigner {
    /// The key named by `JWT_SIGNING_KEY_PARAMETER`, for `JWT_ISSUER` and
    /// `JWT_AUDIENCE`. Configuration is read now, so a missing variable
    /// still fails init; only the fetch is left running.
    pub fn prefetch_from_env(sdk: &aws_types::SdkConfig) -> Result<Self, ConfigError> {
        Ok(Self::prefetch(
            sdk,
            required(&env, PARAMETER)?,
            TokenScope::from_lookup(&env)?,
        ))
    }

    /// Starts fetching `parameter`; call inside the runtime.
    pub fn prefetch(sdk: &aws_types::SdkConfig, parameter: String, scope: TokenScope) -> Self {
        let ssm = aws_sdk_ssm::Client::new(sdk);
        let first = tokio::spawn({
            let (ssm, parameter, scope) = (ssm.clone(), parameter.clone(), scope.clone());
            async move { fetch(&ssm, &parameter, scope).await }
        });
        Self {
            ssm,
            parameter,
            scope,
            first: Mutex::new(Some(first)),
            ready: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn get(&self) -> Result<&TokenSigner, ConfigError> {
        self.ready
            .get_or_try_init(|| async {
                let first = self.first.lock().ok().and_then(|mut first| first.take());
                if let Some(task) = first {
                    match task.await {
                        Ok(Ok(signer)) => return Ok(signer),
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "signing key fetch failed; trying again")
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "signing key fetch did not finish")
                        }
                    }
                }
                fetch(&self.ssm, &self.parameter, self.scope.clone()).await
            })
            .await
    }
}

const PARAMETER: &str = "JWT_SIGNING_KEY_PARAMETER";

/// The private JWK in the SSM SecureString `parameter`, as a signer.
async fn fetch(
    ssm: &aws_sdk_ssm::Client,
    parameter: &str,
    scope: TokenScope,
) -> Result<TokenSigner, ConfigError> {
    let out = ssm
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| {
            invalid(
                PARAMETER,
                format!(
                    "cannot read {parameter}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&err)
                ),
            )
        })?;
    let value = out
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| invalid(PARAMETER, "the parameter has no value"))?;
    signer(&value, scope)
}

/// An Ed25519 JSON Web Key (RFC 8037). `d` is present only in the private
/// key stored in SSM, never in the public JWKS.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub kid: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

fn key_bytes(name: &'static str, value: &str) -> Result<[u8; 32], ConfigError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| invalid(name, "an Ed25519 key must be 32 base64url bytes"))
}

fn check_kind(name: &'static str, jwk: &Jwk) -> Result<(), ConfigError> {
    let alg_ok = jwk.alg.as_deref().is_none_or(|alg| alg == ALG);
    if jwk.kty == "OKP" && jwk.crv == "Ed25519" && alg_ok && !jwk.kid.is_empty() {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("key {:?} is not an Ed25519 (OKP) key", jwk.kid),
        ))
    }
}

/// Parses the public JWKS. A private component in it is a deployment
/// mistake worth failing init for.
pub fn parse_jwks(json: &str) -> Result<Jwks, ConfigError> {
    const NAME: &str = "JWT_JWKS";
    let jwks: Jwks = serde_json::from_str(json).map_err(|e| invalid(NAME, e.to_string()))?;
    if jwks.keys.is_empty() {
        return Err(invalid(NAME, "no keys"));
    }
    for jwk in &jwks.keys {
        check_kind(NAME, jwk)?;
        if jwk.d.is_some() {
            return Err(invalid(NAME, "the public JWKS contains a private key"));
        }
        key_bytes(NAME, &jwk.x)?;
    }
    Ok(jwks)
}

pub fn verifier(jwks: &Jwks, scope: TokenScope) -> Result<TokenVerifier, ConfigError> {
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
        let key = VerifyingKey::from_bytes(&key_bytes("JWT_JWKS", &jwk.x)?)
            .map_err(|_| invalid("JWT_JWKS", "not a valid Ed25519 public key"))?;
        keys.insert(jwk.kid.clone(), key);
    }
    Ok(TokenVerifier::new(keys, scope))
}

/// Builds the signer from the private JWK, checking that its public half
/// matches `x` (a mismatched pair would issue tokens nobody can verify).
pub fn signer(private_jwk: &str, scope: TokenScope) -> Result<TokenSigner, ConfigError> {
    const NAME: &str = PARAMETER;
    let jwk: Jwk = serde_json::from_str(private_jwk)
        .map_err(|_| invalid(NAME, "the parameter is not a JWK"))?;
    check_kind(NAME, &jwk)?;
    let seed = jwk
        .d
        .as_deref()
        .ok_or_else(|| invalid(NAME, "the JWK has no private part"))?;
    let key = SigningKey::from_bytes(&key_bytes(NAME, seed)?);
    if key.verifying_key().to_bytes() != key_bytes(NAME, &jwk.x)? {
        return Err(invalid(NAME, "the private and public halves do not match"));
    }
    Ok(TokenSigner::new(jwk.kid, key, scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> TokenScope {
        TokenScope {
            issuer: "i".into(),
            audience: "a".into(),
        }
    }

    fn private_jwk(seed: u8, kid: &str) -> Jwk {
        let key = SigningKey::from_bytes(&[seed; 32]);
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: kid.into(),
            x: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            d: Some(URL_SAFE_NO_PAD.encode([seed; 32])),
            alg: Some(ALG.into()),
            use_: Some("sig".into()),
        }
    }

    fn public(jwk: &Jwk) -> Jwk {
        Jwk {
            d: None,
            ..jwk.clone()
        }
    }

    #[test]
    fn a_signer_and_a_verifier_from_one_pair_agree() {
        let private = private_jwk(7, "k7");
        let signer =
            signer(&serde_json::to_string(&private).expect("json"), scope()).expect("signer");
        let jwks = Jwks {
            keys: vec![public(&private)],
        };
        let verifier = verifier(
            &parse_jwks(&serde_json::to_string(&jwks).expect("json")).expect("jwks"),
            scope(),
        )
        .expect("verifier");
        let user = crate::auth::UserId::generate();
        let token = signer.sign(&user, crate::auth::Role::Customer, 1_000);
        assert_eq!(verifier.verify(&token, 1_001).expect("valid").sub, user);
    }

    #[test]
    fn rejects_private_material_in_the_public_jwks() {
        let jwks = Jwks {
            keys: vec![private_jwk(7, "k7")],
        };
        assert!(parse_jwks(&serde_json::to_string(&jwks).expect("json")).is_err());
    }

    #[test]
    fn rejects_a_mismatched_private_key() {
        let mut jwk = private_jwk(7, "k7");
        jwk.x = private_jwk(8, "k8").x;
        assert!(signer(&serde_json::to_string(&jwk).expect("json"), scope()).is_err());
    }
}
