//! Repositories over the single DynamoDB table. One trait per capability so
//! a handler depends only on what it uses; item conversion lives beside each
//! store and key shapes come from [`crate::keys`].

mod attr;
/// For counters outside the stores (the rate limiter).
pub(crate) use attr::n as attr_n;
pub mod cart_item;
pub mod carts;
pub mod checkout;
pub mod erasure;
pub mod idempotency;
pub mod notifications;
pub mod order_item;
pub mod orders;
pub mod outbox;
pub mod product_item;
pub mod products;
pub mod promotions;
pub mod reports;
pub mod search;
pub mod sessions;
pub mod shards;
pub mod taxes;
pub mod users;
pub mod webhooks;

pub use carts::{Cart, CartLine, CartStore, CartView, DynamoCarts};
pub use checkout::{CheckoutStore, Claim, Commit, DynamoCheckout, LineTake};
pub use erasure::{DynamoErasures, Erasure, ErasureStatus, ErasureStore};
pub use idempotency::{Completion, DynamoIdempotency, IdempotencyStore, KeyScope, StoredResponse};
pub use notifications::{DynamoNotifications, Notification, NotificationKind, NotificationStore};
pub use orders::{
    DynamoOrders, Order, OrderLifecycle, OrderListing, OrderPage, OrderPayments, OrderPosition,
    OrderReads, OrderRefunds, PaymentOutcome, RefundCommit, Settlement,
};
pub use outbox::{DynamoOutbox, OutboxStore, Pending, Relay};
pub use products::{
    DynamoProducts, NewProduct, ProductPage, ProductPatch, ProductStore, StockChange, StockDelta,
};
pub use promotions::{DynamoPromotions, Promotion, PromotionPage, PromotionPatch, PromotionStore};
pub use reports::{DynamoReports, Report, ReportStatus, ReportStore, ReportSummary, SkuSales};
pub use search::{DynamoSearchLog, LogEntry, SearchDoc, SearchLog};
pub use sessions::{DynamoSessions, Rotation, Session, SessionInfo, SessionStore, TokenHash};
pub use shards::Rebalanced;
pub use taxes::{DynamoPricing, DynamoTaxes, PricingInputs, PricingStore, TaxRates, TaxStore};
pub use users::{DynamoUsers, LoginAttempt, User, UserStore};
pub use webhooks::{DynamoWebhooks, WebhookStore};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conditional write lost: the item already exists.
    #[error("item already exists")]
    AlreadyExists,
    /// The item to change does not exist (or is soft-deleted).
    #[error("item not found")]
    NotFound,
    /// A conditional write lost to the item's current state (stale version).
    #[error("condition failed")]
    ConditionFailed,
    /// The request's idempotency claim was taken over by a retry of the
    /// same key: nothing written, the retry's answer stands.
    #[error("idempotency claim lost")]
    LeaseLost,
    /// DynamoDB failed or was unreachable; the full SDK context, for logs.
    #[error("dynamodb: {0}")]
    Dynamo(String),
    /// An item that does not decode: a bug or a manual edit, never user input.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// A price sum beyond `u64` can only come from stored data no valid input
/// writes.
impl From<crate::domain::pricing::Overflow> for StoreError {
    fn from(err: crate::domain::pricing::Overflow) -> Self {
        Self::Corrupt(err.to_string())
    }
}

/// One strongly consistent `BatchGetItem` of at most 100 keys from our
/// table; the items found, in no particular order. Unprocessed keys (only
/// under throttling, at these sizes) are surfaced as an error, not dropped.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<crate::keys::Item>,
) -> Result<Vec<crate::keys::Item>, StoreError> {
    batch_read(client, table, keys, true).await
}

/// [`batch_get`], eventually consistent: half the read units, and an
/// item's 6,000 reads a second instead of 3,000 (docs/FLASH-SALE.md), for
/// reads whose every guarantee is a later write's condition.
pub(crate) async fn batch_get_eventually(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<crate::keys::Item>,
) -> Result<Vec<crate::keys::Item>, StoreError> {
    batch_read(client, table, keys, false).await
}

async fn batch_read(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<crate::keys::Item>,
    consistent: bool,
) -> Result<Vec<crate::keys::Item>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(consistent)
        .build()
        .map_err(|e| StoreError::Dynamo(e.to_string()))?;
    let out = client
        .batch_get_item()
        .request_items(table, request)
        .send()
        .await?;
    if out.unprocessed_keys.as_ref().is_some_and(|k| !k.is_empty()) {
        return Err(StoreError::Dynamo("batch read was throttled".into()));
    }
    Ok(out
        .responses
        .and_then(|mut tables| tables.remove(table))
        .unwrap_or_default())
}

/// Writes `item` unless an item with its key exists; `false` when one did.
/// Every item of one partition of the table or an index, all pages
/// read; only the attributes named, when `projection` names some.
pub(crate) async fn query_partition(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<crate::keys::Index>,
    partition: aws_sdk_dynamodb::types::AttributeValue,
    projection: Option<&str>,
) -> Result<Vec<crate::keys::Item>, StoreError> {
    let pk_name = index.map_or(crate::keys::PK, |index| index.pk);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .set_index_name(index.map(|index| index.name.to_string()))
            .key_condition_expression("#qpk = :qpk")
            .expression_attribute_names("#qpk", pk_name)
            .expression_attribute_values(":qpk", partition.clone())
            .set_projection_expression(projection.map(str::to_string))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

pub(crate) async fn put_if_absent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: crate::keys::Item,
) -> Result<bool, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", crate::keys::PK)
        .send()
        .await;
    unless_condition_failed(result)
}

/// The outcome of a conditional write: `true` written, `false` when its
/// condition failed; any other failure is an error.
pub(crate) fn unless_condition_failed<T, E, R>(
    result: Result<T, SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// A request builder's error (a required field unset: a bug, never input)
/// as a store error.
pub(crate) fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Dynamo(e.to_string()))
}

/// Live: exists and not soft-deleted (`#pk` names the partition key).
pub(crate) const LIVE: &str = "attribute_exists(#pk) AND attribute_not_exists(deleted_at)";

/// The outcome of an `UpdateItem` conditional on a live item (and perhaps
/// more) that asked for `ALL_NEW` and, on failure, `ALL_OLD`: the new item;
/// `NotFound` when nothing live was there; `ConditionFailed` when a live
/// item refused the change.
pub(crate) fn updated_live_item<R>(
    result: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
    >,
) -> Result<crate::keys::Item, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match result {
        Ok(out) => Ok(out.attributes.unwrap_or_default()),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                match failed.item.as_ref().filter(|item| is_live(item)) {
                    Some(_) => Err(StoreError::ConditionFailed),
                    None => Err(StoreError::NotFound),
                }
            }
            _ => Err(err.into()),
        },
    }
}

/// A stored item that exists and is not soft-deleted.
pub(crate) fn is_live(item: &crate::keys::Item) -> bool {
    !item.is_empty() && !item.contains_key("deleted_at")
}

/// Soft-deletes the live item at `key`: marks it deleted and removes the
/// index attributes that list it. `NotFound` if it was not live.
pub(crate) async fn soft_delete(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: crate::keys::Item,
    listing_attributes: &[&str],
    now: &str,
) -> Result<(), StoreError> {
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(format!(
            "SET deleted_at = :now, updated_at = :now REMOVE {}",
            listing_attributes.join(", ")
        ))
        .condition_expression(LIVE)
        .expression_attribute_names("#pk", crate::keys::PK)
        .expression_attribute_values(":now", attr::s(now))
        .send()
        .await;
    if unless_condition_failed(result)? {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Whether `item` has the primary key `key`.
pub(crate) fn has_key(item: &crate::keys::Item, key: &crate::keys::Item) -> bool {
    item.get(crate::keys::PK) == key.get(crate::keys::PK)
        && item.get(crate::keys::SK) == key.get(crate::keys::SK)
}

/// Runs a transaction, retrying when DynamoDB cancels it for contention
/// rather than for a condition. Returns the per-action codes of a
/// cancellation caused by a condition.
///
/// Two cancellations are retried, because the SDK's own retry classifier
/// sees only `TransactionCanceledException`, which it does not retry:
/// - `TransactionConflict`: another transaction touched one of its items at
///   the same moment, as in a checkout rush. Retried soon: the other one
///   finishes in milliseconds.
/// - `ThrottlingError` / `ProvisionedThroughputExceeded`: an item's
///   partition is past its write ceiling (a flash sale on one SKU, see
///   docs/FLASH-SALE.md). Retried the way the SDK retries a throttled
///   call, with exponential backoff and full jitter, so retries spread out
///   instead of arriving together at the same full partition.
pub(crate) async fn transact(
    client: &aws_sdk_dynamodb::Client,
    actions: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<Result<(), Vec<Option<String>>>, StoreError> {
    for attempt in 1..=TRANSACT_ATTEMPTS {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(actions.clone()))
            .send()
            .await;
        let Err(err) = result else {
            return Ok(Ok(()));
        };
        let codes = cancellation_codes(&err);
        match cancellation(&codes) {
            Cancellation::Condition => return Ok(Err(codes)),
            Cancellation::Other => return Err(err.into()),
            _ if attempt == TRANSACT_ATTEMPTS => return Err(err.into()),
            retryable => tokio::time::sleep(retry_delay(retryable, attempt, jitter())).await,
        }
    }
    Err(StoreError::Dynamo("transaction retries exhausted".into()))
}

const TRANSACT_ATTEMPTS: u32 = 4;

/// Why a transaction was cancelled, by the reasons DynamoDB gave per action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancellation {
    /// A condition failed: the caller decides (never retried).
    Condition,
    Conflict,
    Throttled,
    /// Anything else, or not a cancellation at all.
    Other,
}

fn cancellation(codes: &[Option<String>]) -> Cancellation {
    let has = |wanted: &[&str]| {
        codes
            .iter()
            .any(|code| code.as_deref().is_some_and(|code| wanted.contains(&code)))
    };
    if has(&["ConditionalCheckFailed"]) {
        Cancellation::Condition
    } else if has(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
        Cancellation::Throttled
    } else if has(&["TransactionConflict"]) {
        Cancellation::Conflict
    } else {
        Cancellation::Other
    }
}

/// The wait before retry number `attempt` (1-based). `jitter` is uniform in
/// [0, 1): a conflict waits 15 ms x attempt; a throttle a random share of
/// 50 ms x 2^(attempt - 1) (full jitter), capped at one second so a
/// checkout still answers within API Gateway's timeout.
fn retry_delay(why: Cancellation, attempt: u32, jitter: f64) -> std::time::Duration {
    match why {
        Cancellation::Throttled => {
            let ceiling = (50.0 * 2f64.powi(attempt.saturating_sub(1) as i32)).min(1000.0);
            std::time::Duration::from_secs_f64(ceiling * jitter.clamp(0.0, 1.0) / 1000.0)
        }
        _ => std::time::Duration::from_millis(15 * u64::from(attempt)),
    }
}

/// Uniform in [0, 1) from the OS random source; 0.5 if it fails (the wait
/// is then merely not jittered).
fn jitter() -> f64 {
    quiet_support::id::try_random_u32().map_or(0.5, |random| {
        f64::from(random) / (f64::from(u32::MAX) + 1.0)
    })
}

/// The per-action cancellation codes of a failed TransactWriteItems, in
/// action order (`Some("ConditionalCheckFailed")` for a lost condition).
pub(crate) fn cancellation_codes<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Vec<Option<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => canceled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// True when action `index` of a cancelled transaction lost its condition.
pub(crate) fn condition_failed(codes: &[Option<String>], index: usize) -> bool {
    codes.get(index).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(err: SdkError<E, R>) -> Self {
        Self::Dynamo(DisplayErrorContext(&err).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn a_failed_condition_wins_over_everything_else() {
        let mixed = codes(&[
            Some("ThrottlingError"),
            Some("ConditionalCheckFailed"),
            None,
        ]);
        assert_eq!(cancellation(&mixed), Cancellation::Condition);
    }

    #[test]
    fn throttles_and_conflicts_are_retried_and_nothing_else_is() {
        let throttled = codes(&[Some("None"), Some("ThrottlingError")]);
        assert_eq!(cancellation(&throttled), Cancellation::Throttled);
        let provisioned = codes(&[Some("ProvisionedThroughputExceeded")]);
        assert_eq!(cancellation(&provisioned), Cancellation::Throttled);
        let conflict = codes(&[Some("TransactionConflict"), Some("None")]);
        assert_eq!(cancellation(&conflict), Cancellation::Conflict);
        assert_eq!(
            cancellation(&codes(&[Some("ValidationError")])),
            Cancellation::Other
        );
        assert_eq!(cancellation(&[]), Cancellation::Other);
    }

    #[test]
    fn throttled_retries_back_off_exponentially_with_full_jitter_under_a_cap() {
        use std::time::Duration;
        let ms = |attempt, jitter| retry_delay(Cancellation::Throttled, attempt, jitter);
        assert_eq!(ms(1, 0.0), Duration::ZERO);
        assert_eq!(ms(1, 0.5), Duration::from_millis(25));
        assert_eq!(ms(2, 0.5), Duration::from_millis(50));
        assert_eq!(ms(3, 0.5), Duration::from_millis(100));
        assert!(ms(30, 0.999) < Duration::from_secs(1));
        let conflict = retry_delay(Cancellation::Conflict, 3, 0.9);
        assert_eq!(conflict, Duration::from_millis(45));
        let spread: std::collections::HashSet<u64> =
            (0..32).map(|_| (jitter() * 1e6) as u64).collect();
        assert!(spread.len() > 16, "jitter is not random: {spread:?}");
        assert!((0..1000).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }
}
