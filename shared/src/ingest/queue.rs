//! The ingest queue's consumer: producers that must never wait send one event per message
//! (the JSON of one event of `POST /v1/events`) to an SQS queue, and each batch SQS hands the
//! function is decided here, message by message:
//!
//! - **stored**: the event is valid and written through [`Recorder`], exactly once per
//!   (account, `event_id`) whatever SQS redelivers (a redelivery, or a producer's re-send,
//!   answers as a duplicate and writes nothing);
//! - **dead-lettered**: it can never be stored (not an event, a field rule broken, a
//!   service-only type, no `event_id`, an `event_id` already used for other content, no
//!   sender): it goes to the dead-letter queue with its reason, and is done;
//! - **retried**: storage failed; SQS shows the message again after its visibility timeout
//!   (`ReportBatchItemFailures`), and after the queue's `maxReceiveCount` its redrive policy
//!   moves it to the same dead-letter queue. Nothing is dropped unseen.
//!
//! The producer is SQS's `SenderId` of the message (the principal that called SendMessage, as
//! AWS verified it), never a field the sender writes. `event_id` is required on this path: a
//! message SQS delivers twice must store one entry, and without an `event_id` nothing tells
//! the second delivery from a new event.

use std::collections::HashSet;

use jiff::Timestamp;

use super::Recorder;
use super::ports::{DeadLetter, DeadLetters, EventRecords, RecordError};
use crate::domain::{IngestContext, NewEvent, Producer};
use crate::error::{ApiError, FieldError};
use crate::signins::ProfileStore;

/// Dead letters' reasons.
pub mod reasons {
    /// Not an event, or an event that breaks a rule of the contract.
    pub const INVALID: &str = "invalid";
    /// Its `event_id` was already used for an event with different content.
    pub const CONFLICT: &str = "conflict";
    /// No usable sender: nothing is recorded without its producer.
    pub const UNATTRIBUTED: &str = "unattributed";
}

/// One message as the queue delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: String,
    pub body: String,
    /// SQS's `SenderId` attribute: the sending principal's unique id (`AIDA...` for a user,
    /// `AROA...:<session>` for a role).
    pub sender: Option<String>,
}

/// What became of a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Consumed {
    /// Messages to receive again (storage faults, or a dead letter that could not be sent).
    pub retry: Vec<String>,
    /// Events stored anew.
    pub stored: usize,
    /// Events already stored (a redelivery, or a re-send of the same `event_id`).
    pub duplicates: usize,
    /// Messages sent to the dead-letter queue.
    pub dead_lettered: usize,
}

/// Reads one message into an event ready to store, or the dead letter it becomes.
pub fn read(message: &QueuedMessage, now: Timestamp) -> Result<NewEvent, DeadLetter> {
    let letter = |reason, errors| DeadLetter {
        message_id: message.id.clone(),
        body: message.body.clone(),
        sender: message.sender.clone(),
        reason,
        errors,
    };
    let producer = match message.sender.as_deref().map(Producer::parse) {
        Some(Ok(producer)) => producer,
        Some(Err(e)) => {
            let error = FieldError::new("SenderId", e);
            return Err(letter(reasons::UNATTRIBUTED, vec![error]));
        }
        None => {
            let error = FieldError::new("SenderId", "is missing: the sender is unknown");
            return Err(letter(reasons::UNATTRIBUTED, vec![error]));
        }
    };
    let context = IngestContext {
        now,
        producer: &producer,
    };
    let event = NewEvent::parse_one(message.body.as_bytes(), &context).map_err(|e| {
        let errors = match e {
            ApiError::Validation(errors) => errors,
            other => vec![FieldError::new("body", other.to_string())],
        };
        letter(reasons::INVALID, errors)
    })?;
    if event.event_id.is_none() {
        let error = FieldError::new(
            "event_id",
            "is required on the ingest queue, so that a message delivered twice is stored once",
        );
        return Err(letter(reasons::INVALID, vec![error]));
    }
    Ok(event)
}

/// The consumer over the events store (`S`) and the dead-letter queue (`D`).
pub struct QueueIngest<S, D> {
    recorder: Recorder<S>,
    dead_letters: D,
}

impl<S, D> QueueIngest<S, D>
where
    S: EventRecords + ProfileStore + Clone,
    D: DeadLetters,
{
    pub fn new(store: S, dead_letters: D) -> Self {
        Self {
            recorder: Recorder::new(store),
            dead_letters,
        }
    }

    /// Stores the batch's valid events in one write, dead-letters the rest, and answers what to
    /// receive again.
    pub async fn consume(&self, messages: &[QueuedMessage], now: Timestamp) -> Consumed {
        let mut letters = Vec::new();
        let mut pending = Vec::new();
        for message in messages {
            match read(message, now) {
                Ok(event) => pending.push((message, event)),
                Err(letter) => letters.push(letter),
            }
        }
        let mut consumed = Consumed::default();
        // A conflict writes nothing of the batch: its events become dead letters and the others
        // are written again (each round takes at least one event out).
        while !pending.is_empty() {
            // Sign-in flags are set on copies: a round after a conflict judges afresh.
            let mut events: Vec<NewEvent> = pending.iter().map(|(_, e)| e.clone()).collect();
            match self.recorder.record(&mut events, now).await {
                Ok(recorded) => {
                    consumed.duplicates = recorded.iter().filter(|r| r.duplicate).count();
                    consumed.stored = recorded.len() - consumed.duplicates;
                    break;
                }
                Err(RecordError::Conflict(conflicts)) => {
                    let conflicting: HashSet<usize> = conflicts.iter().map(|c| c.index).collect();
                    for conflict in &conflicts {
                        let (message, _) = pending[conflict.index];
                        letters.push(DeadLetter {
                            message_id: message.id.clone(),
                            body: message.body.clone(),
                            sender: message.sender.clone(),
                            reason: reasons::CONFLICT,
                            errors: vec![FieldError::new("event_id", conflict.message())],
                        });
                    }
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !conflicting.contains(i))
                        .map(|(_, p)| p)
                        .collect();
                }
                Err(RecordError::Store(error)) => {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        messages = pending.len(),
                        "storing queued events failed; SQS shows them again"
                    );
                    consumed
                        .retry
                        .extend(pending.iter().map(|(m, _)| m.id.clone()));
                    break;
                }
            }
        }
        if !letters.is_empty() {
            for letter in &letters {
                let fields: Vec<&str> = letter.errors.iter().map(|e| e.field.as_str()).collect();
                tracing::warn!(
                    message = %letter.message_id,
                    reason = letter.reason,
                    fields = ?fields,
                    "queued event can never be stored; sent to the dead-letter queue"
                );
            }
            consumed.dead_lettered = letters.len();
            if let Err(error) = self.dead_letters.send(&letters).await {
                // Not in the dead-letter queue: the messages stay in the queue, and come back.
                tracing::error!(%error, "dead letters not sent; SQS shows their messages again");
                consumed.dead_lettered = consumed
                    .dead_lettered
                    .saturating_sub(error.message_ids.len());
                consumed.retry.extend(error.message_ids);
            }
        }
        consumed
    }
}
