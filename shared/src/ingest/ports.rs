//! The ingest use case's ports: the events store's idempotent write, and the dead-letter queue
//! of the ingest queue. DynamoDB and SQS serve them in the cloud
//! (`store::dynamodb::events::record`, `store::sqs::ingest_dead_letters`); the tests serve
//! them from memory.

use std::future::Future;

use crate::domain::{EntryId, NewEvent, Recorded};
use crate::error::FieldError;
use crate::storage::StoreError;

/// Why a batch was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// These events (request indices) re-use an `event_id` with different content; nothing of
    /// the batch was written.
    #[error("event_id re-used with different content")]
    Conflict(Vec<Conflict>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One event whose `event_id` already names other content, and the id recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub index: usize,
    pub recorded_id: EntryId,
}

impl Conflict {
    /// What is wrong with the event's `event_id`, as both paths report it.
    pub fn message(&self) -> String {
        format!(
            "was already used for an event with different content (entry {})",
            self.recorded_id.as_str()
        )
    }
}

/// The events store's write: all or nothing, exactly one entry per (account, `event_id`).
pub trait EventRecords: Send + Sync {
    /// Stores validated events; the result is in the order of `events`.
    fn record_events(
        &self,
        events: &[NewEvent],
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<Recorded>, RecordError>> + Send;
}

/// A message of the ingest queue that can never be stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue's id of the message.
    pub message_id: String,
    /// The message's body, unchanged.
    pub body: String,
    /// Who sent it (SQS's `SenderId`), when known.
    pub sender: Option<String>,
    /// A short code: `invalid`, `conflict` or `unattributed`.
    pub reason: &'static str,
    /// What is wrong, field by field (`ip`: "must be an IPv4 or IPv6 address").
    pub errors: Vec<FieldError>,
}

/// Where messages that can never be stored go, with their reason.
pub trait DeadLetters: Send + Sync {
    /// Sends each letter; `Err` names the letters that were not sent.
    fn send(
        &self,
        letters: &[DeadLetter],
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}

/// Some letters were not sent (`message_ids`): their messages must stay in the queue.
#[derive(Debug, thiserror::Error)]
#[error("{} dead letters not sent: {reason}", .message_ids.len())]
pub struct DeadLetterError {
    pub message_ids: Vec<String>,
    pub reason: String,
}
