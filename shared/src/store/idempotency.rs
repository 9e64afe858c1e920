//! Idempotency records: the claim a mutating request makes on its key
//! before it does anything, and the completion that stores its response in
//! the same transaction as its effect.
//!
//! `claim` writes the record (`PutItem`, conditional). On a conflict
//! DynamoDB returns the existing record (`ALL_OLD`), which says replay,
//! still running, or another body, with no second read. The executor then
//! commits its effect together with [`complete_action`] (conditional on its
//! lease), or [`release`]s the claim after a failure that wrote nothing, so
//! a retry runs again instead of replaying an error.
//!
//! A claim left `in_progress` by a crashed executor can be taken over after
//! [`STALE_CLAIM_SECS`]; the lease condition on completion makes sure only
//! one executor's transaction can ever succeed.
//!
//! An effect that can happen only once by its own condition (a new email,
//! SKU or code; a status change) may instead [`IdempotencyStore::complete`]
//! right after it: a crash in between leaves a claim that a retry takes
//! over and answers with that condition's 409, never a second effect.

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update},
    Client,
};

use super::attr::{get_n, get_s, n, s};
use super::{built, StoreError};
use crate::domain::{Email, UserId};
use crate::keys;

/// Idempotency records are kept for 24 hours (TTL).
pub const RECORD_TTL_SECS: u64 = 24 * 60 * 60;
/// An `in_progress` claim older than this belonged to an executor that died
/// (functions time out after 10 s).
pub const STALE_CLAIM_SECS: u64 = 30;

/// Whose keys these are: one client's keys never meet another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope(String);

impl KeyScope {
    pub fn user(id: &UserId) -> Self {
        Self(keys::idempotency::user_scope(id))
    }

    /// A caller without an account yet (registration): keyed to the email
    /// it registers, so two strangers' keys cannot collide.
    pub fn registering(email: &Email) -> Self {
        Self(keys::idempotency::email_scope(email))
    }
}

/// The response a completed request stores and every replay sends again:
/// status, JSON body, and the headers a client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// `ETag` and `Location`, lower-case names.
    pub headers: Vec<(String, String)>,
}

impl StoredResponse {
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to execute, under this lease.
    Claimed { lease: String },
    /// Already completed with the same body: send this response again.
    Replay(StoredResponse),
    /// Another request with this key is running.
    InProgress,
    /// This key was used with a different body.
    Mismatch,
}

/// The response a claimed request completes with.
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub scope: &'a KeyScope,
    pub key_hash: &'a str,
    pub lease: &'a str,
    pub response: &'a StoredResponse,
    /// The customer the response is about, when that is not the caller
    /// (staff refunding or shipping an order): the record is then indexed
    /// under them, so their erasure scrubs the address it holds.
    pub about: Option<&'a UserId>,
}

pub trait IdempotencyStore: Send + Sync {
    fn claim(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        request_hash: &str,
        now: u64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    fn release(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        lease: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores the response of an effect that already happened; `false` if
    /// the lease was lost to a takeover (whose answer then stands).
    fn complete(
        &self,
        completion: &Completion<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        request_hash: &str,
        now: u64,
    ) -> Result<Claim, StoreError> {
        claim(
            &self.client,
            &self.table,
            scope,
            key_hash,
            request_hash,
            now,
        )
        .await
    }

    async fn release(
        &self,
        scope: &KeyScope,
        key_hash: &str,
        lease: &str,
    ) -> Result<(), StoreError> {
        release(&self.client, &self.table, scope, key_hash, lease).await
    }

    async fn complete(&self, completion: &Completion<'_>) -> Result<bool, StoreError> {
        let update = completion_update(&self.table, completion)?;
        let result = self
            .client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_string))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await;
        super::unless_condition_failed(result)
    }
}

pub(crate) async fn claim(
    client: &Client,
    table: &str,
    scope: &KeyScope,
    key_hash: &str,
    request_hash: &str,
    now: u64,
) -> Result<Claim, StoreError> {
    let lease = quiet_support::encoding::hex(&quiet_support::id::random_bytes::<16>());
    let mut item = keys::idempotency::record(&scope.0, key_hash);
    item.extend([
        ("status".into(), s("in_progress")),
        ("request_hash".into(), s(request_hash)),
        ("lease".into(), s(&lease)),
        ("started_at".into(), n(now)),
        (keys::EXPIRES_AT.into(), n(now + RECORD_TTL_SECS)),
    ]);
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        // New, expired (TTL deletion lags), or abandoned by a dead executor.
        .condition_expression(
            "attribute_not_exists(#pk) OR #ttl < :now \
             OR (#status = :in_progress AND started_at < :stale)",
        )
        .expression_attribute_names("#pk", keys::PK)
        .expression_attribute_names("#ttl", keys::EXPIRES_AT)
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":in_progress", s("in_progress"))
        .expression_attribute_values(":stale", n(now.saturating_sub(STALE_CLAIM_SECS)))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let existing = match result {
        Ok(_) => return Ok(Claim::Claimed { lease }),
        Err(err) => match err.as_service_error() {
            Some(
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                    failed,
                ),
            ) => failed.item.clone().unwrap_or_default(),
            _ => return Err(err.into()),
        },
    };
    if get_s(&existing, "request_hash")? != request_hash {
        return Ok(Claim::Mismatch);
    }
    if get_s(&existing, "status")? != "completed" {
        return Ok(Claim::InProgress);
    }
    let headers = match existing.get("response_headers") {
        Some(value) => {
            let text = value
                .as_s()
                .map_err(|_| StoreError::Corrupt("response_headers is not a string".into()))?;
            serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?
        }
        None => Vec::new(),
    };
    Ok(Claim::Replay(StoredResponse {
        status: get_n(&existing, "response_status")?,
        body: get_s(&existing, "response_body")?.to_string(),
        headers,
    }))
}

pub(crate) async fn release(
    client: &Client,
    table: &str,
    scope: &KeyScope,
    key_hash: &str,
    lease: &str,
) -> Result<(), StoreError> {
    let result = client
        .delete_item()
        .table_name(table)
        .set_key(Some(keys::idempotency::record(&scope.0, key_hash)))
        // Only a claim still running: after an ambiguous failure whose
        // transaction did commit, the record is completed, and deleting it
        // would let a retry run the effect a second time.
        .condition_expression("lease = :lease AND #status = :in_progress")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":lease", s(lease))
        .expression_attribute_values(":in_progress", s("in_progress"))
        .send()
        .await;
    // Completed, or taken over by someone else: it stands.
    super::unless_condition_failed(result).map(|_| ())
}

/// The record's completion as a transaction action: fails (and so cancels
/// the effect it travels with) unless the caller still holds its lease.
pub(crate) fn complete_action(
    table: &str,
    completion: &Completion<'_>,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .update(completion_update(table, completion)?)
        .build())
}

fn completion_update(table: &str, completion: &Completion<'_>) -> Result<Update, StoreError> {
    let response = completion.response;
    let mut set =
        String::from("SET #status = :completed, response_status = :code, response_body = :body");
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::idempotency::record(
            &completion.scope.0,
            completion.key_hash,
        )))
        .condition_expression("lease = :lease AND #status = :in_progress")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":completed", s("completed"))
        .expression_attribute_values(":in_progress", s("in_progress"))
        .expression_attribute_values(":code", n(response.status))
        .expression_attribute_values(":body", s(&response.body))
        .expression_attribute_values(":lease", s(completion.lease));
    if let Some(customer) = completion.about {
        set.push_str(", #about_pk = :about, #about_sk = :about_sk");
        update = update
            .expression_attribute_names("#about_pk", keys::GSI2.pk)
            .expression_attribute_names("#about_sk", keys::GSI2.sk)
            .expression_attribute_values(":about", keys::idempotency::about_partition(customer))
            .expression_attribute_values(
                ":about_sk",
                s(format!("{}#{}", completion.scope.0, completion.key_hash)),
            );
    }
    if !response.headers.is_empty() {
        set.push_str(", response_headers = :headers");
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        update = update.expression_attribute_values(":headers", s(headers));
    }
    built(update.update_expression(set).build())
}
