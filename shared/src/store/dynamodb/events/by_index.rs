//! Reading an account's entries in log order, from an index on: what streams deliver.
//!
//! The GSI `by_log_index` (`pk`, `log_index`, projection ALL) holds only entries the sequencer
//! has stamped (the index is sparse: nothing else has a `log_index`), so one Query reads the
//! next few hundred entries of the log in order, with no lookup per entry. A GSI is eventually
//! consistent: an index just stamped may be missing for a moment, which the caller sees as a
//! gap and waits out (`streams::delivery`).

use super::{EventStore, entry_of};
use crate::domain::{AccountId, LogEntry};
use crate::storage::StoreError;
use crate::store::dynamodb::item::{attr_s, text};
use crate::store::dynamodb::schema::{LOG_INDEX, LOG_INDEX_INDEX, PK, SK};

impl EventStore {
    /// The account's sequenced entries with `log_index >= from`, in index order, at most
    /// `limit` (one Query page: it may return fewer while more follow).
    pub async fn entries_from_index(
        &self,
        account: &AccountId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LOG_INDEX_INDEX)
            .key_condition_expression("#pk = :pk AND #index >= :from")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#index", LOG_INDEX)
            .expression_attribute_values(":pk", attr_s(account.as_str()))
            .expression_attribute_values(
                ":from",
                aws_sdk_dynamodb::types::AttributeValue::N(from.to_string()),
            )
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        output
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| entry_of(item, &text(item, SK)?))
            .collect()
    }
}
