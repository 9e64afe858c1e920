//! Access tokens: compact JWS signed with Ed25519 (`alg: EdDSA`).
//!
//! Hand-rolled on purpose, because it is small and leaves no room for the
//! classic JWT mistakes: the verifier accepts exactly one algorithm and
//! only the keys it was configured with (by `kid`), so `alg: none`, HS256
//! signed with the public key, an unknown `kid` or a foreign key pair all
//! fail the same way. Only the token-issuing functions hold a [`TokenSigner`].

use std::collections::HashMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ed25519_dalek::{Signature as Ed25519Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Role, UserId};

pub const ALG: &str = "EdDSA";
pub use crate::domain::user::ACCESS_TTL_SECS;
/// Tolerated clock difference between issuer and verifier.
pub const CLOCK_SKEW_SECS: u64 = 60;
/// Longer than any token we issue; anything bigger is rejected unread.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
}

/// Why a token was refused. Callers answer every variant with the same 401;
/// the variant is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer or audience")]
    Audience,
    #[error("expired or not yet valid")]
    Expired,
}

/// Identifies this deployment's tokens: issuer and audience must match.
#[derive(Debug, Clone)]
pub struct TokenScope {
    pub issuer: String,
    pub audience: String,
}

/// Issues access tokens. Only login and refresh build one.
pub struct TokenSigner {
    kid: String,
    key: SigningKey,
    scope: TokenScope,
}

impl TokenSigner {
    pub fn new(kid: String, key: SigningKey, scope: TokenScope) -> Self {
        Self { kid, key, scope }
    }

    pub fn sign(&self, sub: &UserId, role: Role, now: u64) -> String {
        let header = Header {
            alg: ALG.into(),
            typ: "JWT".into(),
            kid: self.kid.clone(),
        };
        let claims = Claims {
            iss: self.scope.issuer.clone(),
            aud: self.scope.audience.clone(),
            sub: sub.clone(),
            role,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        let input = format!("{}.{}", encode_json(&header), encode_json(&claims));
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

fn encode_json<T: Serialize>(value: &T) -> String {
    // Our header and claims are plain structs of strings and integers.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// Verifies access tokens against the configured public keys.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, VerifyingKey>,
    scope: TokenScope,
}

impl TokenVerifier {
    pub fn new(keys: HashMap<String, VerifyingKey>, scope: TokenScope) -> Self {
        Self { keys, scope }
    }

    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, InvalidToken> {
        use InvalidToken::*;
        if token.len() > MAX_TOKEN_LEN {
            return Err(Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed);
        };
        let header: Header = decode_json(header)?;
        if header.alg != ALG {
            return Err(Algorithm);
        }
        let key = self.keys.get(&header.kid).ok_or(UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Ed25519Signature::from_slice(&bytes).ok())
            .ok_or(Signature)?;
        let signed = &token[..header_len(token)];
        key.verify_strict(signed.as_bytes(), &signature)
            .map_err(|_| Signature)?;

        let claims: Claims = decode_json(payload)?;
        if claims.iss != self.scope.issuer || claims.aud != self.scope.audience {
            return Err(Audience);
        }
        if claims.exp + CLOCK_SKEW_SECS <= now || claims.iat > now + CLOCK_SKEW_SECS {
            return Err(Expired);
        }
        Ok(claims)
    }
}

/// Length of `header.payload`, the signed part of a compact JWS.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, InvalidToken> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| InvalidToken::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| InvalidToken::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> TokenScope {
        TokenScope {
            issuer: "https://quiet.test".into(),
            audience: "quiet-api".into(),
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signer(seed: u8, kid: &str) -> TokenSigner {
        TokenSigner::new(kid.into(), key(seed), scope())
    }

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(
            HashMap::from([("k1".to_string(), key(1).verifying_key())]),
            scope(),
        )
    }

    fn user() -> UserId {
        UserId::try_from("usr_0123456789abcdef0123456789abcdef".to_string()).expect("valid id")
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_we_signed_verifies_with_its_claims() {
        let token = signer(1, "k1").sign(&user(), Role::Admin, NOW);
        let claims = verifier().verify(&token, NOW + 10).expect("valid");
        assert_eq!(claims.sub, user());
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.exp, NOW + ACCESS_TTL_SECS);
    }

    #[test]
    fn expiry_allows_the_clock_skew_and_no_more() {
        let token = signer(1, "k1").sign(&user(), Role::Customer, NOW);
        let exp = NOW + ACCESS_TTL_SECS;
        assert!(verifier().verify(&token, exp + CLOCK_SKEW_SECS - 1).is_ok());
        assert_eq!(
            verifier().verify(&token, exp + CLOCK_SKEW_SECS),
            Err(InvalidToken::Expired)
        );
        assert_eq!(
            verifier().verify(&token, NOW - CLOCK_SKEW_SECS - 1),
            Err(InvalidToken::Expired)
        );
    }

    #[test]
    fn foreign_keys_and_unknown_kids_are_refused() {
        let other_pair = signer(2, "k1").sign(&user(), Role::Admin, NOW);
        assert_eq!(
            verifier().verify(&other_pair, NOW),
            Err(InvalidToken::Signature)
        );
        let unknown_kid = signer(1, "k9").sign(&user(), Role::Admin, NOW);
        assert_eq!(
            verifier().verify(&unknown_kid, NOW),
            Err(InvalidToken::UnknownKey)
        );
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let token = signer(1, "k1").sign(&user(), Role::Customer, NOW);
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            if bytes[i] == b'.' {
                continue;
            }
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            if tampered != token {
                assert!(verifier().verify(&tampered, NOW).is_err(), "byte {i}");
            }
        }
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "iss": "https://quiet.test", "aud": "quiet-api", "sub": user(),
                "role": "admin", "iat": NOW, "exp": NOW + 60
            }))
            .expect("json"),
        );
        for alg in ["none", "HS256", "ES256", "eddsa"] {
            let header =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#));
            for signature in ["", "c2ln"] {
                let token = format!("{header}.{claims}.{signature}");
                assert_eq!(
                    verifier().verify(&token, NOW),
                    Err(InvalidToken::Algorithm),
                    "{alg}"
                );
            }
        }
        for garbage in ["", "a", "a.b", "a.b.c", "a.b.c.d", &"x".repeat(5000)] {
            assert!(verifier().verify(garbage, NOW).is_err());
        }
    }
}
