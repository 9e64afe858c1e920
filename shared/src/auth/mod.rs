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

use quiet_support::encoding::{hex, sha256_hex};
use quiet_support::id::random_bytes;

pub use crate::domain::user::{Email, Password, Role, UserId};
use crate::store::TokenHash;
pub use jwt::{Claims, InvalidToken, TokenScope, TokenSigner, TokenVerifier};

/// Why a request may not go on. The edge maps it (`ApiError: From`): both
/// are the same body whatever the reason, so a caller learns nothing about
/// a token it did not get from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired, forged or revoked token: 401.
    #[error("valid credentials are required")]
    Unauthorized,
    /// A valid token with the wrong role: 403.
    #[error("your account may not do this")]
    Forbidden,
}

/// The caller, as proven by a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
}

impl AuthUser {
    /// The one RBAC check: a valid token with the wrong role is 403.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.role == role {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }
}

/// Verifies the request's `Authorization: Bearer` token. Missing, malformed,
/// expired and forged tokens are all the same 401.
pub fn authenticate(req: &Request, verifier: &TokenVerifier) -> Result<AuthUser, AuthError> {
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
        .ok_or(AuthError::Unauthorized)?;
    let claims = verifier
        .verify(token, crate::clock::now())
        .map_err(|reason| {
            tracing::info!(%reason, "access token refused");
            AuthError::Unauthorized
        })?;
    refuse_revoked(AuthUser {
        id: claims.sub,
        role: claims.role,
    })
}

/// A genuine token of an erased account is refused like a forged one.
fn refuse_revoked(user: AuthUser) -> Result<AuthUser, AuthError> {
    if revoked::is_revoked(&user.id) {
        tracing::info!(
            user = user.id.as_str(),
            "access token of an erased account refused"
        );
        return Err(AuthError::Unauthorized);
    }
    Ok(user)
}

/// The token response of login and refresh (RFC 6749 §5.1 shape).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
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

/// A new token family id (128 random bits).
pub fn new_family_id() -> String {
    hex(&random_bytes::<16>())
}
