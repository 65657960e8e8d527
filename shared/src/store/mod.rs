//! The adapters, laid out by backend (each folder's module doc says what it holds):
//!
//! - [`dynamodb`]: the events, log and export jobs tables, and the helpers they share;
//! - [`s3`]: the exports bucket;
//! - [`kms`]: the checkpoint signer;
//! - [`secrets`]: the cursor signing key (Secrets Manager);
//! - [`aws`]: the SDK configuration every client is built from (timeouts, TLS roots, local
//!   endpoints).
//!
//! And here [`StoreError`], the storage fault every adapter reports.

pub mod aws;
pub mod dynamodb;
pub mod kms;
pub mod s3;
pub mod secrets;

use thiserror::Error;

use crate::error::ApiError;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Storage faults. SDK errors are kept as the source (the whole chain is logged once, by
/// `http::problem`), never flattened into strings.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("DynamoDB call failed")]
    Dynamo(#[source] Cause),
    /// No answer in time, throttling or a fault of DynamoDB's own: the same call may succeed
    /// later (after the SDK's own retries ran out).
    #[error("DynamoDB is unreachable or overloaded")]
    Unavailable(#[source] Cause),
    /// Retries of DynamoDB's own contention (transaction conflicts) ran out.
    #[error("DynamoDB kept refusing: {0}")]
    Contention(&'static str),
    #[error("DynamoDB kept {0} items unprocessed after retries")]
    Unprocessed(usize),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// The log keeps no leaf data for this index: it is not appended yet, or was appended
    /// before the log kept leaf data.
    #[error("the log holds no leaf data for index {0}")]
    NoLeafData(u64),
    #[error("the cursor signing key is unavailable")]
    Secret(#[source] Cause),
}

impl StoreError {
    pub fn dynamo<E>(err: aws_sdk_dynamodb::error::SdkError<E>) -> Self
    where
        E: std::error::Error
            + aws_sdk_dynamodb::error::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
    {
        use aws_sdk_dynamodb::error::SdkError;
        let transient = match &err {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => matches!(
                service.err().code(),
                Some(
                    "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            ),
            _ => false,
        };
        match transient {
            true => Self::Unavailable(Box::new(err)),
            false => Self::Dynamo(Box::new(err)),
        }
    }

    /// Whether the same call may succeed later: worth a retry rather than a verdict.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Contention(_) | Self::Unprocessed(_)
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::storage(err)
    }
}
