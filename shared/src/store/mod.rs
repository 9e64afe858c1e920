//! Repositories over the single DynamoDB table. One trait per capability so
//! a handler depends only on what it uses; item conversion lives beside each
//! store and key shapes come from [`crate::keys`].

mod attr;
pub mod products;
pub mod sessions;
pub mod users;

pub use products::{
    DynamoProducts, NewProduct, Page, ProductPatch, ProductStore, StockChange, StockDelta,
};
pub use sessions::{DynamoSessions, Rotation, Session, SessionStore, TokenHash};
pub use users::{DynamoUsers, User, UserStore};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

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
    /// DynamoDB failed or was unreachable; the full SDK context, for logs.
    #[error("dynamodb: {0}")]
    Dynamo(String),
    /// An item that does not decode: a bug or a manual edit, never user input.
    #[error("corrupt item: {0}")]
    Corrupt(String),
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
