//! The SQS adapters: the queue of stream delivery runs, and the ingest queue's dead letters.

pub mod delivery_queue;
pub mod ingest_dead_letters;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// What one SendMessageBatch did not send: the positions of those entries, and why (SQS's
/// reason for the first, or the call's error, which refuses them all).
struct Refused {
    positions: Vec<usize>,
    reason: String,
}

/// One SendMessageBatch of `entries`, each entry's id its position (SQS's most: 10).
async fn send_batch(
    client: &Client,
    url: &str,
    entries: Vec<SendMessageBatchRequestEntry>,
) -> Result<(), Refused> {
    let count = entries.len();
    let output = client
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|err| Refused {
            positions: (0..count).collect(),
            reason: aws_sdk_sqs::error::DisplayErrorContext(&err).to_string(),
        })?;
    match output.failed().first() {
        None => Ok(()),
        Some(first) => Err(Refused {
            positions: output
                .failed()
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok())
                .collect(),
            reason: first.message().unwrap_or(first.code()).to_owned(),
        }),
    }
}
