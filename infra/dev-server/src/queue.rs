//! The local stand-in for Lambda's SQS event source mappings: receives a queue's messages from
//! moto and invokes the function behind it ([`QueueConsumer`]: the stream delivery function on
//! the queue of stream runs, the ingest queue's consumer on the ingest queue) with the event
//! Lambda sends, then deletes the messages it did not report failed
//! (`ReportBatchItemFailures`); a failed one shows again after its visibility timeout, as in
//! SQS, and the queue's redrive policy (moto applies it) moves it to its dead-letter queue after
//! `maxReceiveCount` receives. Several pollers run at once, as Lambda scales its SQS pollers, so
//! a slow invocation holds up only its own batch.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ingest_queue::IngestQueue;
use lambda_runtime::{Context, LambdaEvent};
use stream_delivery::StreamDelivery;

/// Messages per invocation (the mapping's `BatchSize`).
pub const BATCH_SIZE: i32 = 10;
/// Pollers, each with one invocation in flight.
pub const POLLERS: usize = 2;
/// A poller's pause after an empty receive.
const EMPTY_PAUSE: Duration = Duration::from_millis(250);
/// The function's timeout: each invocation's deadline is now + this.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A function behind an SQS event source mapping (`BatchSize` [`BATCH_SIZE`],
/// `ReportBatchItemFailures`).
pub trait QueueConsumer: Send + Sync + 'static {
    /// What its messages are, for the logs ("stream runs").
    const MESSAGES: &'static str;

    /// One invocation; `Err` leaves every message of the batch to show again.
    fn invoke(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> impl Future<Output = Result<SqsBatchResponse, lambda_runtime::Error>> + Send;
}

impl QueueConsumer for StreamDelivery {
    const MESSAGES: &'static str = "stream runs";

    async fn invoke(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        self.handle(event).await
    }
}

impl QueueConsumer for IngestQueue {
    const MESSAGES: &'static str = "queued events";

    async fn invoke(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        self.handle(event).await
    }
}

pub struct QueueTrigger<C> {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub consumer: Arc<C>,
}

/// Invocations in flight at most, as Lambda runs several at once for a busy queue: a poller
/// hands each batch to its own task and polls again, so a long run never holds the queue.
const IN_FLIGHT: usize = 8;

impl<C: QueueConsumer> QueueTrigger<C> {
    /// Polls forever with [`POLLERS`] pollers; run it as a task and abort it to stop.
    pub async fn run(self) {
        let this = Arc::new(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut pollers = tokio::task::JoinSet::new();
        for _ in 0..POLLERS {
            let (this, slots) = (this.clone(), slots.clone());
            pollers.spawn(async move {
                loop {
                    let Ok(slot) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    this.clone().poll_once(slot).await;
                }
            });
        }
        while pollers.join_next().await.is_some() {}
    }

    /// Receives a batch and invokes the function on it in a task of its own, which holds `slot`.
    async fn poll_once(self: Arc<Self>, slot: tokio::sync::OwnedSemaphorePermit) {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            // Lambda's records carry them all: stream delivery measures the wait in the queue
            // from `SentTimestamp`, the ingest queue records `SenderId` as the producer.
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            // Short polls: moto serves one request at a time, and a long poll would hold it.
            .wait_time_seconds(0)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), messages = C::MESSAGES, "receiving failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        };
        if messages.is_empty() {
            tokio::time::sleep(EMPTY_PAUSE).await;
            return;
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|message| {
                let mut record = SqsMessage::default();
                record.message_id = message.message_id.clone();
                record.receipt_handle = message.receipt_handle.clone();
                record.body = message.body.clone();
                record.attributes = message
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".into());
                record
            })
            .collect();
        tokio::spawn(async move {
            self.invoke(event, messages).await;
            drop(slot);
        });
    }

    async fn invoke(&self, event: SqsEvent, messages: Vec<aws_sdk_sqs::types::Message>) {
        let mut context = Context::default();
        context.request_id = ulid::Ulid::generate().to_string();
        context.deadline =
            (jiff::Timestamp::now().as_millisecond() + TIMEOUT.as_millis() as i64) as u64;
        let failed: Vec<String> = match self.consumer.invoke(LambdaEvent::new(event, context)).await
        {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|failure| failure.item_identifier)
                .collect(),
            Err(error) => {
                tracing::warn!(%error, messages = C::MESSAGES, "the invocation failed; SQS shows its messages again");
                return;
            }
        };
        // One call for the batch, as Lambda's mapping deletes.
        let done: Vec<_> = messages
            .into_iter()
            .filter(|message| {
                !failed
                    .iter()
                    .any(|id| Some(id) == message.message_id.as_ref())
            })
            .filter_map(|message| message.receipt_handle)
            .enumerate()
            .filter_map(|(n, handle)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        if done.is_empty() {
            return;
        }
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(done))
            .send()
            .await;
        match deleted {
            Ok(output) if output.failed.is_empty() => {}
            Ok(output) => {
                tracing::warn!(
                    failed = output.failed.len(),
                    messages = C::MESSAGES,
                    "deleting failed"
                )
            }
            Err(error) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), messages = C::MESSAGES, "deleting failed")
            }
        }
    }
}

/// Starts what delivers streams locally, as the cloud's mappings do: the log table's stream into
/// the fan-out, and the queue of runs into the delivery function.
pub fn spawn_stream_delivery(
    app: &crate::App,
    config: &aws_config::SdkConfig,
    log_table: &str,
    queue_url: &str,
) {
    let fanout = crate::streams::StreamTrigger {
        streams: aws_sdk_dynamodbstreams::Client::new(config),
        dynamodb: aws_sdk_dynamodb::Client::new(config),
        table: log_table.to_owned(),
        consumer: app.stream_fanout(),
        timeout: Duration::from_secs(60),
    };
    tokio::spawn(fanout.run());
    let delivery = QueueTrigger {
        sqs: aws_sdk_sqs::Client::new(config),
        queue_url: queue_url.to_owned(),
        consumer: app.stream_delivery(),
    };
    tokio::spawn(delivery.run());
}

/// Starts what consumes the ingest queue locally, as its mapping does in the cloud.
pub fn spawn_ingest_queue(app: &crate::App, config: &aws_config::SdkConfig, queue_url: &str) {
    let trigger = QueueTrigger {
        sqs: aws_sdk_sqs::Client::new(config),
        queue_url: queue_url.to_owned(),
        consumer: app.ingest_queue(),
    };
    tokio::spawn(trigger.run());
}
