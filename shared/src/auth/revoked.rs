//! Access tokens of erased accounts, refused before they expire.
//!
//! Access tokens are verified without a read (that is what makes them
//! cheap), so an erased account's tokens would otherwise work for up to
//! their 15 minutes. Erasure writes a marker under one small partition,
//! `REVOKED`, that lives as long as any token issued before it can; each
//! function instance reads that partition at most once every
//! [`REFRESH_MS`], only when a request carries credentials, and
//! [`super::authenticate`] refuses a token whose user is listed.
//!
//! So a revoked token stops working everywhere within [`REFRESH_MS`], and a
//! busy instance pays one Query per interval, not one per request.

use std::collections::BTreeSet;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{http::header, Request};

use super::UserId;
use crate::keys;

/// How stale an instance's list may be.
pub const REFRESH_MS: u64 = 2_000;

struct Listed {
    users: BTreeSet<String>,
    read_at_ms: Option<u64>,
}

static LISTED: Mutex<Listed> = Mutex::new(Listed {
    users: BTreeSet::new(),
    read_at_ms: None,
});

/// Whether `user`'s tokens are refused, as of this instance's last read.
pub fn is_revoked(user: &UserId) -> bool {
    LISTED
        .lock()
        .map(|listed| listed.users.contains(user.as_str()))
        .unwrap_or(false)
}

/// Reads the revocation list for the shared HTTP edge.
pub struct Revocations {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Revocations {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = crate::Config::from_env()?;
        Ok(Self {
            client: config.dynamodb(),
            table: config.table_name.clone(),
        })
    }

    /// Re-reads the list when `req` carries credentials and the last read
    /// is older than [`REFRESH_MS`]. A failed read keeps the old list (and
    /// is retried on the next request): refusing every caller because the
    /// table hiccuped would be worse than a token living seconds longer.
    pub async fn refresh_for(&self, req: &Request) {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return;
        }
        let now = crate::clock::now_ms();
        let stale = LISTED
            .lock()
            .map(|listed| listed.read_at_ms.is_none_or(|at| now >= at + REFRESH_MS))
            .unwrap_or(true);
        if !stale {
            return;
        }
        match self.read(now).await {
            Ok(users) => {
                if let Ok(mut listed) = LISTED.lock() {
                    listed.users = users;
                    listed.read_at_ms = Some(now);
                }
            }
            Err(err) => tracing::warn!(error = %err, "revocation list not read; keeping the last"),
        }
    }

    async fn read(&self, now_ms: u64) -> Result<BTreeSet<String>, crate::store::StoreError> {
        let now = now_ms / 1000;
        let markers = crate::store::query_partition(
            &self.client,
            &self.table,
            None,
            keys::account::revoked_partition(),
            None,
        )
        .await?;
        let mut users = BTreeSet::new();
        for item in &markers {
            // TTL deletes lazily; an expired marker no longer matters.
            let live = match item.get(keys::EXPIRES_AT) {
                Some(AttributeValue::N(at)) => at.parse::<u64>().is_ok_and(|at| at > now),
                _ => false,
            };
            if let (true, Some(AttributeValue::S(user))) = (live, item.get(keys::SK)) {
                users.insert(user.clone());
            }
        }
        Ok(users)
    }
}

#[cfg(test)]
pub(crate) fn revoke_locally(user: &UserId) {
    if let Ok(mut listed) = LISTED.lock() {
        listed.users.insert(user.as_str().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{authenticate, Role, TokenScope, TokenSigner, TokenVerifier};
    use ed25519_dalek::SigningKey;
    use std::collections::HashMap;

    fn scope() -> TokenScope {
        TokenScope {
            issuer: "https://quiet.test".into(),
            audience: "quiet-api".into(),
        }
    }

    #[test]
    fn a_listed_users_genuine_token_is_refused_and_no_one_elses() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let verifier = TokenVerifier::new(
            HashMap::from([("k7".to_string(), key.verifying_key())]),
            scope(),
        );
        let signer = TokenSigner::new("k7".into(), key, scope());
        let request = |user: &UserId| {
            let token = signer.sign(user, Role::Customer, crate::clock::now());
            let mut req = Request::default();
            if let Ok(value) = format!("Bearer {token}").parse() {
                req.headers_mut().insert(header::AUTHORIZATION, value);
            }
            req
        };
        let (kept, erased) = (UserId::generate(), UserId::generate());
        assert!(authenticate(&request(&erased), &verifier).is_ok());
        revoke_locally(&erased);
        assert!(is_revoked(&erased) && !is_revoked(&kept));
        assert!(matches!(
            authenticate(&request(&erased), &verifier),
            Err(crate::auth::AuthError::Unauthorized)
        ));
        assert!(authenticate(&request(&kept), &verifier).is_ok());
    }
}
