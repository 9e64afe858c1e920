//! Accounts and login throttling.

use std::future::Future;

use aws_sdk_dynamodb::{
    operation::update_item::UpdateItemError,
    types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem},
    Client,
};

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::StoreError;
use crate::domain::{Email, Role, UserId};
use crate::keys::{self, Item};

pub use crate::domain::user::{User, UserName};

/// What login needs, from the email guard item.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub role: Role,
    pub password_hash: String,
}

/// Whether an attempt at an email's password may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Counted as a failure until a right password clears it.
    Reserved,
    /// [`MAX_FAILURES`] attempts were made in this window.
    Refused { retry_after_secs: u64 },
}

/// Failed logins for one email in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub window_start: u64,
}

/// The throttling window: 15 minutes from the first failure.
pub const FAILURE_WINDOW_SECS: u64 = 15 * 60;
/// Failures allowed within a window; the next attempt is refused.
pub const MAX_FAILURES: u32 = 5;

impl Failures {
    /// Seconds until another attempt is allowed, when throttled.
    pub fn retry_after(&self, now: u64) -> Option<u64> {
        let window_end = self.window_start + FAILURE_WINDOW_SECS;
        (self.count >= MAX_FAILURES && now < window_end).then(|| window_end - now)
    }
}

pub trait UserStore: Send + Sync {
    /// Creates the user and claims its email in one transaction;
    /// `StoreError::AlreadyExists` when the email is taken.
    fn create(
        &self,
        user: &User,
        password_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get(&self, id: &UserId) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// What login needs from the email guard; `None` for an unknown email.
    fn credentials(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<Credentials>, StoreError>> + Send;

    /// Takes one of the email's attempts at its password, before the
    /// password is checked: a wrong one keeps it (it is the failure), a
    /// right one gives them all back (login's session starts in the same
    /// transaction that clears them: [`super::SessionStore::start`]).
    /// Concurrent guesses each need their own, so no more than
    /// [`MAX_FAILURES`] are ever checked in a window.
    fn reserve_attempt(
        &self,
        email: &Email,
        now: u64,
    ) -> impl Future<Output = Result<LoginAttempt, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoUsers {
    client: Client,
    table: String,
}

impl DynamoUsers {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        id: get_parsed(item, "user_id")?,
        email: get_parsed(item, "email")?,
        name: get_parsed(item, "name")?,
        role: get_parsed(item, "role")?,
        created_at: get_s(item, "created_at")?.to_string(),
    })
}

fn failures_from_item(item: &Item) -> Result<Failures, StoreError> {
    Ok(Failures {
        count: get_n(item, "failures")?,
        window_start: get_n(item, "window_start")?,
    })
}

fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

impl UserStore for DynamoUsers {
    async fn create(&self, user: &User, password_hash: &str) -> Result<(), StoreError> {
        let mut profile = keys::account::user(&user.id);
        profile.extend([
            ("user_id".into(), s(user.id.as_str())),
            ("email".into(), s(user.email.as_str())),
            ("name".into(), s(user.name.as_str())),
            ("role".into(), s(user.role.as_str())),
            ("created_at".into(), s(&user.created_at)),
        ]);
        let mut guard = keys::account::email(&user.email);
        guard.extend([
            ("user_id".into(), s(user.id.as_str())),
            ("role".into(), s(user.role.as_str())),
            ("password_hash".into(), s(password_hash)),
        ]);
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(guard).map_err(|e| StoreError::Dynamo(e.to_string()))?)
            .transact_items(put(profile).map_err(|e| StoreError::Dynamo(e.to_string()))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The guard is the first action: its condition failing means
            // the email is taken (user ids are random and never collide).
            Err(err) if super::condition_failed(&super::cancellation_codes(&err), 0) => {
                Err(StoreError::AlreadyExists)
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::account::user(id)))
            .send()
            .await?;
        out.item.as_ref().map(user_from_item).transpose()
    }

    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::account::email(email)))
            .send()
            .await?;
        out.item
            .as_ref()
            .map(|item| -> Result<Credentials, StoreError> {
                Ok(Credentials {
                    user_id: get_parsed(item, "user_id")?,
                    role: get_parsed(item, "role")?,
                    password_hash: get_s(item, "password_hash")?.to_string(),
                })
            })
            .transpose()
    }

    async fn reserve_attempt(&self, email: &Email, now: u64) -> Result<LoginAttempt, StoreError> {
        let key = keys::account::login_failures(email);
        let cutoff = now.saturating_sub(FAILURE_WINDOW_SECS);
        // Twice at most: a window that ended is replaced by a new one, and
        // if a concurrent attempt replaced it first, this one counts in it.
        for _ in 0..2 {
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(
                    "SET failures = if_not_exists(failures, :zero) + :one, \
                     window_start = if_not_exists(window_start, :now), \
                     #ttl = if_not_exists(#ttl, :expires)",
                )
                .condition_expression(
                    "attribute_not_exists(#pk) OR (window_start > :cutoff AND failures < :max)",
                )
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#ttl", keys::EXPIRES_AT)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":cutoff", n(cutoff))
                .expression_attribute_values(":max", n(MAX_FAILURES))
                .expression_attribute_values(":expires", n(now + FAILURE_WINDOW_SECS))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let current = match counted {
                Ok(_) => return Ok(LoginAttempt::Reserved),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        failures_from_item(&failed.item.clone().unwrap_or_default())?
                    }
                    _ => return Err(err.into()),
                },
            };
            if let Some(retry_after_secs) = current.retry_after(now) {
                return Ok(LoginAttempt::Refused { retry_after_secs });
            }
            // That window has passed: start a new one, unless another
            // attempt just did (then count in theirs, above).
            let mut item = key.clone();
            item.extend([
                ("failures".into(), n(1)),
                ("window_start".into(), n(now)),
                (keys::EXPIRES_AT.into(), n(now + FAILURE_WINDOW_SECS)),
            ]);
            let started = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("window_start <= :cutoff")
                .expression_attribute_values(":cutoff", n(cutoff))
                .send()
                .await;
            match started {
                Ok(_) => return Ok(LoginAttempt::Reserved),
                Err(err) if err.as_service_error().is_some_and(is_conditional_failure) => {}
                Err(err) => return Err(err.into()),
            }
        }
        // Windows replaced under us twice in one request: refuse this one.
        Ok(LoginAttempt::Refused {
            retry_after_secs: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_five_failures_until_the_window_ends() {
        let start = 1_000;
        let failures = |count| Failures {
            count,
            window_start: start,
        };
        assert_eq!(failures(4).retry_after(start + 10), None);
        assert_eq!(
            failures(5).retry_after(start + 10),
            Some(FAILURE_WINDOW_SECS - 10)
        );
        assert_eq!(failures(5).retry_after(start + FAILURE_WINDOW_SECS), None);
    }
}
