//! DynamoDB's `TransactWriteItems`, as every table's adapter uses it: the create-only put, and a
//! cancellation read as an outcome (which conditions failed, or a conflict to retry) rather
//! than an error. Below the adapters: it imports none of them. The item limit,
//! `TRANSACTION_MAX`, is `crate::storage`'s, as the sequencer's commits are sized by it too.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::schema::PK;
use crate::storage::StoreError;

/// A put that only creates: it fails rather than overwrite an item (the audit trail is
/// append-only; IAM cannot require the condition, so every put of this crate carries it).
pub(crate) fn absent_put(table: &str, item: HashMap<String, AttributeValue>) -> Put {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PK)
        .build()
        .expect("table and item are set")
}

/// A conditional write's result as whether it was applied: `false` when its condition failed
/// (someone else's write came first), an error for any other failure.
pub(crate) fn applied<T, E>(result: Result<T, SdkError<E>>) -> Result<bool, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(err) => Err(StoreError::dynamo(err)),
    }
}

pub(crate) enum Outcome {
    Written,
    /// Cancelled: the positions of the items whose condition failed.
    ConditionsFailed(Vec<usize>),
    /// Cancelled by a concurrent transaction on the same items: retry.
    Conflict,
}

/// One `TransactWriteItems`; a cancellation is an outcome, any other failure an error.
pub(crate) async fn transact(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<TransactWriteItem>,
) -> Result<Outcome, StoreError> {
    let result = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Outcome::Written),
        Err(err) => cancellation(&err).ok_or_else(|| StoreError::dynamo(err)),
    }
}

/// What a cancelled transaction's reasons say; `None` for any other failure.
pub(crate) fn cancellation(err: &SdkError<TransactWriteItemsError>) -> Option<Outcome> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return None;
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, code)| **code == "ConditionalCheckFailed")
        .map(|(p, _)| p)
        .collect();
    if !failed.is_empty() {
        Some(Outcome::ConditionsFailed(failed))
    } else if codes.contains(&"TransactionConflict") {
        Some(Outcome::Conflict)
    } else {
        None
    }
}
