//! Repositories over the single DynamoDB table. One trait per capability so
//! a handler depends only on what it uses; item conversion lives beside each
//! store and key shapes come from [`crate::keys`].

mod attr;
pub mod products;

pub use products::{DynamoProducts, NewProduct, Page, ProductStore};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conditional write lost: the item already exists.
    #[error("item already exists")]
    AlreadyExists,
    /// DynamoDB failed or was unreachable; the full SDK context, for logs.
    #[error("dynamodb: {0}")]
    Dynamo(String),
    /// An item that does not decode: a bug or a manual edit, never user input.
    #[error("corrupt item: {0}")]
    Corrupt(String),
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
