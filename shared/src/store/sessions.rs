//! Refresh-token families: rotation on every use, reuse detection.
//!
//! Login starts a family and issues its first token. Each refresh spends
//! the presented token and issues the next one in the same transaction,
//! conditional on the token being unspent and the family not revoked. A
//! spent token presented again means it was copied: the whole family is
//! revoked, so the thief's and the owner's newest tokens both die.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{ConditionCheck, Delete, Put, TransactWriteItem, Update},
    Client,
};

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::StoreError;
use crate::domain::{Email, Role, UserId};
use crate::keys::{self, Item};

/// Refresh tokens and their families live 30 days from the last rotation.
pub const REFRESH_TTL_SECS: u64 = 30 * 24 * 60 * 60;

/// A presented or new refresh token, by its SHA-256 (never stored raw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: UserId,
    pub role: Role,
}

/// A login as the account's owner may see it: no token, no family id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    #[schema(format = DateTime)]
    pub started_at: String,
    /// When its refresh token dies unless used (30 days after its last use).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Signed out, or revoked because a spent token came back.
    pub revoked: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; `next` now is, and it is spent.
    Rotated(Session),
    /// Unknown, expired, spent (the family is now revoked) or revoked.
    Refused,
}

pub trait SessionStore: Send + Sync {
    /// Starts a family with its first token and, in the same
    /// transaction, clears the failed attempts of the email signed in with
    /// (a right password gives them back; no round trip of its own).
    fn start(
        &self,
        session: &Session,
        family: &str,
        first: &TokenHash,
        signed_in_with: &Email,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Spends `presented` and makes `next` the family's live token.
    fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// Revokes the family of `presented` if it belongs to `user`.
    fn revoke(
        &self,
        presented: &TokenHash,
        user: &UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's logins that have not expired, oldest first. Families
    /// started before they were indexed (Dec 2026) are not listed; they
    /// expire within 30 days of their last use.
    fn list(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<SessionInfo>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoSessions {
    client: Client,
    table: String,
}

impl DynamoSessions {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn token_item(&self, hash: &TokenHash, family: &str, session: &Session, now: u64) -> Item {
        let mut item = keys::session::refresh_token(&hash.0);
        item.extend([
            ("family".into(), s(family)),
            ("user_id".into(), s(session.user_id.as_str())),
            ("role".into(), s(session.role.as_str())),
            ("status".into(), s("live")),
            (keys::EXPIRES_AT.into(), n(now + REFRESH_TTL_SECS)),
        ]);
        item
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::session::refresh_token(&hash.0)))
            .consistent_read(true)
            .send()
            .await?
            .item)
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::session::family(family)))
            .update_expression("SET revoked = :yes")
            .expression_attribute_values(
                ":yes",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .send()
            .await?;
        Ok(())
    }
}

impl SessionStore for DynamoSessions {
    async fn start(
        &self,
        session: &Session,
        family: &str,
        first: &TokenHash,
        signed_in_with: &Email,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut family_item = keys::session::indexed_family(family, &session.user_id, now);
        family_item.extend([
            ("user_id".into(), s(session.user_id.as_str())),
            ("started_at".into(), n(now)),
            (keys::EXPIRES_AT.into(), n(now + REFRESH_TTL_SECS)),
        ]);
        self.client
            .transact_write_items()
            .transact_items(self.put(family_item)?)
            .transact_items(self.put(self.token_item(first, family, session, now))?)
            .transact_items(
                TransactWriteItem::builder()
                    .delete(super::built(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(keys::account::login_failures(signed_in_with)))
                            .build(),
                    )?)
                    .build(),
            )
            .send()
            .await?;
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
    ) -> Result<Rotation, StoreError> {
        let Some(item) = self.token(presented).await? else {
            return Ok(Rotation::Refused);
        };
        let family = get_s(&item, "family")?.to_string();
        let expires_at: u64 = get_n(&item, keys::EXPIRES_AT)?;
        if expires_at <= now {
            return Ok(Rotation::Refused);
        }
        if get_s(&item, "status")? != "live" {
            self.revoke_family(&family).await?;
            tracing::warn!(family, "refresh token reused; family revoked");
            return Ok(Rotation::Refused);
        }
        let session = Session {
            user_id: get_parsed(&item, "user_id")?,
            role: get_parsed(&item, "role")?,
        };

        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::session::refresh_token(&presented.0)))
            .update_expression("SET #status = :spent")
            .condition_expression("#status = :live")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":spent", s("spent"))
            .expression_attribute_values(":live", s("live"))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let extend_family = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::session::family(&family)))
            .update_expression("SET #ttl = :expires")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(revoked)")
            .expression_attribute_names("#ttl", keys::EXPIRES_AT)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":expires", n(now + REFRESH_TTL_SECS))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        // An erased account's refresh tokens die with its profile.
        let account_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(keys::account::user(&session.user_id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(spend).build())
            .transact_items(TransactWriteItem::builder().update(extend_family).build())
            .transact_items(self.put(self.token_item(next, &family, &session, now))?)
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(account_exists)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Rotation::Rotated(session)),
            Err(err) => {
                let codes = super::cancellation_codes(&err);
                let failed = |i: usize| super::condition_failed(&codes, i);
                if failed(0) {
                    // Spent by a concurrent request between our read and
                    // write: the same token used twice, i.e. reuse.
                    self.revoke_family(&family).await?;
                    tracing::warn!(family, "refresh token reused concurrently; family revoked");
                    Ok(Rotation::Refused)
                } else if failed(1) || failed(3) {
                    Ok(Rotation::Refused)
                } else {
                    Err(err.into())
                }
            }
        }
    }

    async fn revoke(&self, presented: &TokenHash, user: &UserId) -> Result<(), StoreError> {
        let Some(item) = self.token(presented).await? else {
            return Ok(());
        };
        let owner: UserId = get_parsed(&item, "user_id")?;
        if &owner == user {
            self.revoke_family(get_s(&item, "family")?).await?;
        }
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionInfo>, StoreError> {
        let now = crate::clock::now();
        let secs = |t: u64| crate::clock::rfc3339_ms(t.saturating_mul(1000));
        let families = super::query_partition(
            &self.client,
            &self.table,
            Some(keys::GSI1),
            keys::session::owner_partition(user),
            None,
        )
        .await?;
        let mut sessions = Vec::new();
        for item in &families {
            let expires_at: u64 = get_n(item, keys::EXPIRES_AT)?;
            // TTL deletes lazily: an expired family is gone for us.
            if expires_at <= now {
                continue;
            }
            sessions.push(SessionInfo {
                started_at: secs(get_n(item, "started_at")?),
                expires_at: secs(expires_at),
                revoked: item.contains_key("revoked"),
            });
        }
        Ok(sessions)
    }
}
