//! The ingest queue's dead-letter queue ([`DeadLetters`]): each message that can never be stored
//! is sent there with its body unchanged and why, in message attributes: `reason` (`invalid`,
//! `conflict`, `unattributed`), `errors` (JSON `[{"field", "message"}]`), `source_message_id`
//! and `sender_id`. Messages the redrive policy moves there (storage kept failing) carry none
//! of these: no `reason` means "retries ran out", and they can be redriven as they are.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use crate::ingest::ports::{DeadLetter, DeadLetterError, DeadLetters};

/// SQS's most messages per SendMessageBatch.
const BATCH: usize = 10;
/// Bodies per SendMessageBatch at most: below SQS's 1 MiB per request, attributes included.
const BATCH_BODY_BYTES: usize = 768 * 1024;

/// The names of the attributes a dead letter carries.
pub mod attributes {
    pub const REASON: &str = "reason";
    pub const ERRORS: &str = "errors";
    pub const SOURCE_MESSAGE_ID: &str = "source_message_id";
    pub const SENDER_ID: &str = "sender_id";
}

#[derive(Clone)]
pub struct SqsIngestDeadLetters {
    client: Client,
    url: String,
}

impl SqsIngestDeadLetters {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends one batch; answers the message ids that were not sent, and why.
    async fn send_batch(&self, letters: &[&DeadLetter]) -> Result<(), (Vec<String>, String)> {
        let entries = letters
            .iter()
            .enumerate()
            .map(|(i, letter)| entry(i, letter))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (ids(letters), e.to_string()))?;
        super::send_batch(&self.client, &self.url, entries)
            .await
            .map_err(|not_sent| {
                let ids = not_sent
                    .positions
                    .iter()
                    .filter_map(|&p| letters.get(p).map(|l| l.message_id.clone()))
                    .collect();
                (ids, not_sent.reason)
            })
    }
}

impl DeadLetters for SqsIngestDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        let mut unsent = Vec::new();
        let mut reason = String::new();
        for batch in batches(letters) {
            if let Err((ids, why)) = self.send_batch(&batch).await {
                unsent.extend(ids);
                reason = why;
            }
        }
        if unsent.is_empty() {
            Ok(())
        } else {
            Err(DeadLetterError {
                message_ids: unsent,
                reason,
            })
        }
    }
}

/// Letters in batches of at most [`BATCH`] and [`BATCH_BODY_BYTES`] (a letter larger alone
/// goes alone).
fn batches(letters: &[DeadLetter]) -> Vec<Vec<&DeadLetter>> {
    let mut batches: Vec<Vec<&DeadLetter>> = Vec::new();
    let mut bytes = 0;
    for letter in letters {
        let size = letter.body.len();
        match batches.last_mut() {
            Some(batch) if batch.len() < BATCH && bytes + size <= BATCH_BODY_BYTES => {
                batch.push(letter);
                bytes += size;
            }
            _ => {
                batches.push(vec![letter]);
                bytes = size;
            }
        }
    }
    batches
}

fn ids(letters: &[&DeadLetter]) -> Vec<String> {
    letters.iter().map(|l| l.message_id.clone()).collect()
}

fn entry(
    index: usize,
    letter: &DeadLetter,
) -> Result<SendMessageBatchRequestEntry, aws_sdk_sqs::error::BuildError> {
    let errors = serde_json::to_string(&letter.errors).unwrap_or_else(|_| "[]".into());
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&letter.body)
        .message_attributes(attributes::REASON, text(letter.reason)?)
        .message_attributes(attributes::ERRORS, text(&errors)?)
        .message_attributes(attributes::SOURCE_MESSAGE_ID, text(&letter.message_id)?);
    if let Some(sender) = letter.sender.as_deref().filter(|s| !s.is_empty()) {
        entry = entry.message_attributes(attributes::SENDER_ID, text(sender)?);
    }
    entry.build()
}

fn text(value: &str) -> Result<MessageAttributeValue, aws_sdk_sqs::error::BuildError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(id: &str, body_bytes: usize) -> DeadLetter {
        DeadLetter {
            message_id: id.into(),
            body: "x".repeat(body_bytes),
            sender: None,
            reason: "invalid",
            errors: Vec::new(),
        }
    }

    #[test]
    fn batches_hold_ten_letters_and_bounded_bytes() {
        let small: Vec<DeadLetter> = (0..23).map(|i| letter(&i.to_string(), 10)).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        let large: Vec<DeadLetter> = (0..3).map(|i| letter(&i.to_string(), 500 * 1024)).collect();
        let sizes: Vec<usize> = batches(&large).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert!(batches(&[]).is_empty());
    }
}
