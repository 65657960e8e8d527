//! BatchGetItem with DynamoDB's partial answers handled: the one read of several items by key
//! that the events table's adapters (markers, sign-in profiles) and the log table's use.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::item::{attr_s, text};
use super::schema::{PK, SK};
use crate::storage::StoreError;
use crate::storage::TRANSACTION_MAX;
use crate::storage::retry::{MAX_ATTEMPTS, backoff};

/// Strongly consistent BatchGetItem of `(pk, sk)` keys (at most 100), unprocessed keys
/// retried with backoff.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), HashMap<String, AttributeValue>>, StoreError> {
    debug_assert!(keys.len() <= TRANSACTION_MAX);
    let unique: HashSet<&(String, String)> = keys.iter().collect();
    let mut request = KeysAndAttributes::builder().consistent_read(true);
    for (pk, sk) in unique {
        request = request.keys(HashMap::from([
            (PK.to_owned(), attr_s(pk)),
            (SK.to_owned(), attr_s(sk)),
        ]));
    }
    let mut pending = Some(
        request
            .build()
            .map_err(|e| StoreError::Dynamo(Box::new(e)))?,
    );
    let mut found = HashMap::new();
    for attempt in 0..MAX_ATTEMPTS {
        let Some(keys) = pending.take() else {
            return Ok(found);
        };
        let output = client
            .batch_get_item()
            .request_items(table, keys)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        for item in output
            .responses
            .and_then(|mut by_table| by_table.remove(table))
            .unwrap_or_default()
        {
            found.insert((text(&item, PK)?, text(&item, SK)?), item);
        }
        pending = output
            .unprocessed_keys
            .and_then(|mut by_table| by_table.remove(table))
            .filter(|k| !k.keys().is_empty());
        if pending.is_some() {
            backoff(attempt).await;
        }
    }
    match pending {
        None => Ok(found),
        Some(keys) => Err(StoreError::Unprocessed(keys.keys().len())),
    }
}
