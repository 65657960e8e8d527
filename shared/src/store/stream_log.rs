//! The account's log as a stream reads it ([`StreamLog`]): entries in log order from the events
//! table's `by_log_index` GSI, and a checkpoint covering them from the log table, signed with
//! the checkpoint key when the latest stored one is too small (checkpoints are stored only
//! every `CHECKPOINT_EVERY_SECONDS`, and a stream should not wait for the next).

use std::sync::Arc;

use crate::domain::{AccountId, LogEntry};
use crate::integrity::note::{Checkpoint, origin, sign_checkpoint};
use crate::storage::StoreError;
use crate::store::dynamodb::events::EventStore;
use crate::store::dynamodb::log::LogStore;
use crate::store::kms::log_keys::LogKeys;
use crate::streams::ports::{CheckpointError, StreamLog};

#[derive(Clone)]
pub struct StreamLogReader {
    pub events: EventStore,
    pub log: LogStore,
    pub keys: Arc<LogKeys>,
}

impl StreamLog for StreamLogReader {
    async fn entries(
        &self,
        account: &AccountId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.events.entries_from_index(account, from, limit).await
    }

    /// One read: the stored checkpoint when it covers `size`, else one signed now for the
    /// edge's tree (which holds the first `size` leaves, and usually a few more: a receiver
    /// checks records against any tree that holds them).
    async fn checkpoint(&self, account: &AccountId, size: u64) -> Result<String, CheckpointError> {
        let (stored, edge) = self.log.checkpoint_and_edge(account).await?;
        if let Some(stored) = stored
            && stored.size >= size
        {
            return Ok(stored.note);
        }
        // The records' indices were stamped in the transactions that moved the edge, and the
        // edge is read after them, strongly consistent: it holds them.
        if edge.size() < size {
            return Err(StoreError::Corrupt(format!(
                "the log's edge ({}) is behind index {} read from it",
                edge.size(),
                size - 1
            ))
            .into());
        }
        let checkpoint = Checkpoint {
            origin: origin(account),
            size: edge.size(),
            root: edge.root(),
        };
        let signer = self
            .keys
            .signer()
            .await
            .map_err(|e| CheckpointError::Sign(e.to_string()))?;
        sign_checkpoint(&checkpoint, signer)
            .await
            .map_err(|e| CheckpointError::Sign(e.to_string()))
    }
}
