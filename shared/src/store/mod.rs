//! The adapters, laid out by backend (each folder's module doc says what it holds):
//!
//! - [`dynamodb`]: the events, log and export jobs tables, and the helpers they share;
//! - [`s3`]: the exports bucket;
//! - [`kms`]: the checkpoint signer;
//! - [`secrets`]: the cursor signing key (Secrets Manager);
//! - [`export_ports`]: those adapters as the export worker's ports (the sequencer's and the
//!   sign-ins' are implemented by the tables' own modules);
//! - [`sqs`]: the queue of stream delivery runs;
//! - [`stream_destinations`]: where streams' batches go (signed webhook POSTs);
//! - [`stream_log`]: the log as streams read it (events by index, checkpoints, signing);
//! - [`aws`]: the SDK configuration every client is built from (timeouts, TLS roots, local
//!   endpoints).
//!
//! And here the constructor of [`StoreError`] (the storage fault every port reports, defined in
//! `crate::storage`, below the use cases and the adapters) from DynamoDB's errors.

pub mod aws;
pub mod dynamodb;
pub mod export_ports;
pub mod kms;
pub mod s3;
pub mod secrets;
pub mod sqs;
pub mod stream_destinations;
pub mod stream_log;

use crate::storage::StoreError;

/// The adapters' constructor of [`StoreError`] from a DynamoDB call's error: whether the same
/// call may succeed later decides between `Unavailable` and `Dynamo`.
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
}
