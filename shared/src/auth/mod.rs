//! Identity: who is calling and what they may do.
//!
//! - [`jwt`]: access tokens (Ed25519), signing and verification.
//! - [`password`]: Argon2id hashing.
//! - [`keys`]: the signing key and the public JWKS, loaded once at init.
//! - [`authenticate`] turns a request's bearer token into an [`AuthUser`];
//!   [`AuthUser::require`] is the one RBAC check every function uses.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod revoked;

use lambda_http::{http::header, Request};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::store::TokenHash;
pub use jwt::{Claims, InvalidToken, TokenScope, TokenSigner, TokenVerifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            _ => Err("unknown role".into()),
        }
    }
}

/// A user id: `usr_` and 32 lowercase hex digits (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self(format!("usr_{}", hex(&random_bytes::<16>())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.strip_prefix("usr_") {
            Some(hex)
                if hex.len() == 32
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
            {
                Ok(Self(value))
            }
            _ => Err("not a user id".into()),
        }
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

/// An email address, normalised (trimmed, lower-cased) so that one mailbox
/// is one account whatever the client typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let email = value.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    (1..=64).contains(&local.len())
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err("must be an email address".into())
        }
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A password as the client sent it: 12..=128 characters. Its `Debug`
/// output is redacted, so it cannot reach a log line by accident.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl TryFrom<String> for Password {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if (12..=128).contains(&value.chars().count()) {
            Ok(Self(value))
        } else {
            Err("must be 12 to 128 characters long".into())
        }
    }
}

/// The caller, as proven by a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
}

impl AuthUser {
    /// The one RBAC check: a valid token with the wrong role is 403.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// Verifies the request's `Authorization: Bearer` token. Missing, malformed,
/// expired and forged tokens are all the same 401.
pub fn authenticate(req: &Request, verifier: &TokenVerifier) -> Result<AuthUser, ApiError> {
    // The edge's rate limiter verified this token already; only our own
    // code can put a value in a request's extensions.
    if let Some(user) = req.extensions().get::<AuthUser>() {
        return refuse_revoked(user.clone());
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let claims = verifier
        .verify(token, crate::clock::now())
        .map_err(|reason| {
            tracing::info!(%reason, "access token refused");
            ApiError::Unauthorized
        })?;
    refuse_revoked(AuthUser {
        id: claims.sub,
        role: claims.role,
    })
}

/// A genuine token of an erased account is refused like a forged one.
fn refuse_revoked(user: AuthUser) -> Result<AuthUser, ApiError> {
    if revoked::is_revoked(&user.id) {
        tracing::info!(
            user = user.id.as_str(),
            "access token of an erased account refused"
        );
        return Err(ApiError::Unauthorized);
    }
    Ok(user)
}

/// The token response of login and refresh (RFC 6749 §5.1 shape).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    #[schema(value_type = String, pattern = "^Bearer$")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

impl TokenPair {
    pub fn issue(
        signer: &TokenSigner,
        user: &UserId,
        role: Role,
        refresh_token: String,
        now: u64,
    ) -> Self {
        Self {
            access_token: signer.sign(user, role, now),
            token_type: "Bearer",
            expires_in: jwt::ACCESS_TTL_SECS,
            refresh_token,
        }
    }
}

/// A new refresh token: 256 random bits for the client, and the SHA-256
/// the store keeps (a leaked table holds no usable token).
pub fn new_refresh_token() -> (String, TokenHash) {
    let raw = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        random_bytes::<32>(),
    );
    let hash = hash_refresh_token(&raw);
    (raw, hash)
}

pub fn hash_refresh_token(raw: &str) -> TokenHash {
    TokenHash(sha256_hex(raw.as_bytes()))
}

/// Hex SHA-256, for storing things by a digest of their value.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// A new token family id (128 random bits).
pub fn new_family_id() -> String {
    hex(&random_bytes::<16>())
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS RNG failing is not recoverable, and never input-driven.
    getrandom::fill(&mut bytes).unwrap_or_else(|err| panic!("OS random source failed: {err}"));
    bytes
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let email = Email::try_from("  Ada.Lovelace@Example.COM ".to_string()).expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@.com",
        ] {
            assert!(Email::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_bounded_and_never_debug_printed() {
        assert!(Password::try_from("short".to_string()).is_err());
        assert!(Password::try_from("x".repeat(129)).is_err());
        let password = Password::try_from("correct horse battery".to_string()).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn user_ids_round_trip_and_reject_lookalikes() {
        let id = UserId::generate();
        assert_eq!(UserId::try_from(id.as_str().to_string()), Ok(id));
        for bad in [
            "usr_",
            "usr_XYZ",
            "user_0123456789abcdef0123456789abcdef",
            "usr_0123456789ABCDEF0123456789abcdef",
        ] {
            assert!(UserId::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
