//! The ingest queue (feature `sqs`): each event is one SQS message, its JSON exactly as one
//! event of `POST /v1/events`, sent with SendMessageBatch (at most 10 messages). The queue takes
//! a message without looking into it; the service's consumer validates and stores it later, and
//! sends what it can never store to the queue's dead-letter queue with the reason. So nothing is
//! rejected here but what SQS itself refuses (a message it cannot carry).
//!
//! The producer the service records is the message's `SenderId`: the credentials' principal,
//! as SQS verified it.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sqs::config::{BehaviorVersion, Region};
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

use super::{BatchLimits, EncodedEvent, Problem, Receipt, SendError, Transport};

/// SQS's most messages per SendMessageBatch.
pub const MAX_EVENTS: usize = 10;
/// The bodies of one SendMessageBatch at most: 256 KiB, SQS's long-standing bound of a batch
/// (raised to 1 MiB in 2025, but not on every queue or emulator), far above 10 events.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The ingest queue of one deployment (the stack's `IngestQueueUrl`), or of `make dev`.
#[derive(Debug, Clone)]
pub struct SqsTransport {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsTransport {
    /// With an SQS client configured by the caller (region, credentials, endpoint).
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// An SQS client for `queue_url`, reached at the URL's own origin (the queue URL names its
    /// endpoint: `https://sqs.<region>.amazonaws.com`, or the local stack's), signed with
    /// `credentials` for `region`. The SDK's own retries are off: the client retries, with its
    /// policy, as it does for HTTP.
    pub fn connect(
        queue_url: &str,
        region: String,
        credentials: SharedCredentialsProvider,
        timeout: Duration,
    ) -> Result<Self, String> {
        let url = reqwest::Url::parse(queue_url).map_err(|e| format!("{queue_url}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{queue_url}: not an http(s) URL"));
        }
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials)
            .http_client(https)
            .endpoint_url(url.origin().ascii_serialization())
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        Ok(Self::new(aws_sdk_sqs::Client::from_conf(config), queue_url))
    }
}

impl Transport for SqsTransport {
    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: MAX_EVENTS,
            max_bytes: MAX_BATCH_BYTES,
            envelope_bytes: 0,
            separator_bytes: 0,
        }
    }

    async fn send(&self, events: &[EncodedEvent]) -> Result<Vec<Receipt>, SendError> {
        let entries = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(event.json())
                    .build()
                    .map_err(|e| retryable(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(classify_error)?;
        let mut receipts: Vec<Option<Receipt>> = vec![None; events.len()];
        for sent in output.successful() {
            if let Some(slot) = sent
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| receipts.get_mut(i))
            {
                *slot = Some(Receipt {
                    id: sent.message_id().to_owned(),
                    duplicate: false,
                });
            }
        }
        let mut refused = Vec::new();
        let mut reason = String::new();
        for failed in output.failed() {
            let why = format!("{}: {}", failed.code(), failed.message().unwrap_or("-"));
            // The sender's fault (a body SQS cannot carry) fails again every time.
            if failed.sender_fault()
                && let Ok(index) = failed.id().parse::<usize>()
            {
                refused.push((index, why.clone()));
            }
            reason = why;
        }
        if receipts.iter().all(Option::is_some) {
            return Ok(receipts.into_iter().flatten().collect());
        }
        let accepted = receipts
            .into_iter()
            .enumerate()
            .filter_map(|(i, receipt)| receipt.map(|r| (i, r)))
            .collect();
        Err(SendError::Partial {
            accepted,
            refused,
            reason,
        })
    }
}

/// A whole request's failure: too large is split, a queue that is not there (or an operation
/// it refuses) rejects the batch, anything else is retried (throttling, SQS's faults, timeouts,
/// no connection, credentials refused for a moment).
fn classify_error(error: SdkError<SendMessageBatchError>) -> SendError {
    let reason = DisplayErrorContext(&error).to_string();
    match error.as_service_error() {
        Some(SendMessageBatchError::BatchRequestTooLong(_)) => SendError::TooLarge,
        Some(
            SendMessageBatchError::QueueDoesNotExist(_)
            | SendMessageBatchError::InvalidAddress(_)
            | SendMessageBatchError::UnsupportedOperation(_),
        ) => SendError::Rejected(Problem {
            status: 400,
            detail: reason,
            errors: Vec::new(),
        }),
        _ => retryable(reason),
    }
}

fn retryable(reason: String) -> SendError {
    SendError::Retryable {
        reason,
        retry_after: None,
    }
}
