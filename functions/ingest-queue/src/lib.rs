//! The ingest queue's consumer, invoked by SQS (one event per message, as one event of
//! `POST /v1/events`): the records become queued messages with their `SenderId`, the use case
//! (`seclog::ingest::queue`) stores, dead-letters or retries each, and the messages to receive
//! again are reported as batch item failures (`ReportBatchItemFailures`).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use jiff::Timestamp;
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::event_source::EventFunction;
use seclog::ingest::queue::{QueueIngest, QueuedMessage};
use seclog::store::dynamodb::events::EventStore;
use seclog::store::sqs::ingest_dead_letters::SqsIngestDeadLetters;

/// The system attribute SQS sets to the sending principal's unique id (Lambda's records carry
/// it in `attributes`).
pub const SENDER_ID: &str = "SenderId";

pub struct IngestQueue {
    consumer: QueueIngest<EventStore, SqsIngestDeadLetters>,
}

impl IngestQueue {
    /// The composition root of the ingest queue's consumer.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            consumer: QueueIngest::new(stack.event_store()?, stack.ingest_dead_letters()?),
        })
    }

    pub async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let messages: Vec<QueuedMessage> = event.payload.records.iter().map(queued).collect();
        // Boxed: the use case's future nested in the runtime's is too deep for the compiler's
        // layout query otherwise (the binary does not build).
        let consumed = Box::pin(self.consumer.consume(&messages, Timestamp::now())).await;
        tracing::info!(
            messages = messages.len(),
            stored = consumed.stored,
            duplicates = consumed.duplicates,
            dead_lettered = consumed.dead_lettered,
            retried = consumed.retry.len(),
            "ingest queue batch consumed"
        );
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = consumed.retry.into_iter().map(failure).collect();
        Ok(response)
    }
}

/// A record as the use case reads it. A record without a body is an empty message (refused as
/// such, never skipped).
fn queued(record: &SqsMessage) -> QueuedMessage {
    QueuedMessage {
        id: record.message_id.clone().unwrap_or_default(),
        body: record.body.clone().unwrap_or_default(),
        sender: record.attributes.get(SENDER_ID).cloned(),
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

/// Lambda's entry point ([`seclog::event_source::serve`]).
impl EventFunction for IngestQueue {
    type Event = SqsEvent;
    type Answer = SqsBatchResponse;

    async fn invoke(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        self.handle(event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_read_with_its_sender() {
        let mut record = SqsMessage::default();
        record.message_id = Some("m1".into());
        record.body = Some("{}".into());
        record
            .attributes
            .insert(SENDER_ID.into(), "AROAEXAMPLE:payouts".into());
        let message = queued(&record);
        assert_eq!(message.id, "m1");
        assert_eq!(message.body, "{}");
        assert_eq!(message.sender.as_deref(), Some("AROAEXAMPLE:payouts"));
        assert_eq!(queued(&SqsMessage::default()).sender, None);
    }
}
