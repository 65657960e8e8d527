//! What every storage port speaks, below both the use cases that define the ports
//! (`sequencer`, `signins`, `export`) and the adapters that implement them (`store`): the
//! tables' fault [`StoreError`], the exports bucket's [`BucketError`], the size of one atomic
//! write ([`TRANSACTION_MAX`]) and the backoff for retrying contention ([`retry`]).
//!
//! It exists so that a port can name these without naming an adapter, and an adapter can
//! implement a port without the use case reaching back into the adapters (no import circles,
//! infra/check-modules.py). The SDK-specific constructors (`StoreError::dynamo`,
//! `BucketError::from_sdk`) stay with the adapters in `store`.

mod bucket_error;
pub mod retry;

pub use bucket_error::BucketError;

use thiserror::Error;

use crate::error::ApiError;

/// DynamoDB's limit on the items of one transaction (and keys of one BatchGetItem): the most
/// one atomic write of the storage holds, which the sequencer sizes its commits by.
pub const TRANSACTION_MAX: usize = 100;

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
