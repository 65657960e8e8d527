//! The queue of stream runs ([`DeliveryQueue`]): one message per run, `{"account", "stream"}`,
//! sent in batches of 10 (SQS's most), delayed by the run's delay up to SQS's 15 minutes (a run
//! that comes early finds its stream not due and is queued again for the rest).

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};

use crate::domain::AccountId;
use crate::domain::stream::StreamId;
use crate::streams::ports::{DeliveryQueue, QueueError, ScheduledRun};

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
const BATCH: usize = 10;

/// The body of a run's message.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunMessage {
    pub account: String,
    pub stream: String,
}

impl RunMessage {
    /// The run a message asks for; `None` for a body that is not one (sent to the DLQ by the
    /// caller, never retried forever).
    pub fn parse(body: &str) -> Option<(AccountId, StreamId)> {
        let message: RunMessage = serde_json::from_str(body).ok()?;
        Some((
            AccountId::parse(&message.account).ok()?,
            StreamId::parse(&message.stream).ok()?,
        ))
    }
}

#[derive(Clone)]
pub struct SqsDeliveryQueue {
    client: Client,
    url: String,
}

impl SqsDeliveryQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, runs: &[ScheduledRun]) -> Result<(), QueueError> {
        let mut refused = 0;
        let mut reason = String::new();
        for chunk in runs.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, run)| {
                    let body = serde_json::json!({
                        "account": run.account.as_str(),
                        "stream": run.stream.as_str(),
                    });
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body.to_string())
                        .delay_seconds(run.delay.min(MAX_DELAY).as_secs() as i32)
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            if let Err(not_sent) = super::send_batch(&self.client, &self.url, entries).await {
                refused += not_sent.positions.len();
                reason = not_sent.reason;
            }
        }
        match refused {
            0 => Ok(()),
            refused => Err(QueueError { refused, reason }),
        }
    }
}
