//! DynamoDB adapters. Table layout (README, "Storage"):
//!
//! - events table: `pk` = account, `sk` = `<UTC time, fixed width>#<entry id>`; the GSI
//!   `by_type` (`gsi1pk` = `account#type`, `sk`) serves type filters without reading other
//!   types; idempotency markers live under `pk` = `account#idem`, `sk` = event_id.
//!   [`events`] reads it ([`merge`] is the pure merge of its partitions), [`record`] writes it.
//! - `expires_at` (epoch seconds) is the TTL attribute.

pub mod aws;
pub mod cursor_keys;
pub mod events;
pub mod exports;
pub mod exports_bucket;
pub mod merge;
pub mod record;
pub mod retry;
pub mod schema;

use thiserror::Error;

use crate::error::ApiError;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("DynamoDB call failed: {0}")]
    Dynamo(String),
    #[error("DynamoDB kept {0} items unprocessed after retries")]
    Unprocessed(usize),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    #[error("the cursor signing key is unavailable: {0}")]
    Secret(String),
}

impl StoreError {
    pub fn dynamo<E: std::error::Error + 'static>(
        err: aws_sdk_dynamodb::error::SdkError<E>,
    ) -> Self {
        Self::Dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::storage(err)
    }
}
