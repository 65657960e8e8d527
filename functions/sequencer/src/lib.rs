//! The sequencer function, invoked by the events table's stream with newly stored entries (the
//! event source mapping's filter passes entry inserts only). It appends each account's entries
//! to its Merkle log and signs a checkpoint (`seclog::sequencer`).
//!
//! Failures are reported per record (`ReportBatchItemFailures`): Lambda retries from the
//! earliest record of an account whose append failed; the entries of that batch already in the
//! log are recognised by their `log_index` stamp and not appended again.

use std::collections::BTreeMap;

use futures::StreamExt;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::domain::{AccountId, LogEntry};
use seclog::sequencer::{NewLeaf, Sequencer};
use seclog::store::log::LogStore;
use seclog::store::log_keys::LogKeys;
use serde_dynamo::AttributeValue;

pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};

/// How many accounts' logs one invocation appends to at once.
const ACCOUNTS_AT_ONCE: usize = 8;

pub struct SequencerFunction {
    sequencer: Sequencer<LogStore>,
    keys: LogKeys,
}

/// An entry insert, as the stream shows it.
struct Inserted {
    account: AccountId,
    leaf: NewLeaf,
}

impl SequencerFunction {
    /// The composition root of the sequencer function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            sequencer: Sequencer::new(stack.log_store()?),
            keys: stack.log_keys()?,
        })
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<StreamEvent>,
    ) -> Result<DynamoDbEventResponse, Error> {
        let signer = self.keys.signer().await?;
        // Per account, the leaves and the sequence number of the account's first record.
        let mut accounts: BTreeMap<AccountId, (Vec<NewLeaf>, Option<String>)> = BTreeMap::new();
        for record in &event.payload.records {
            let Some(inserted) = inserted(record) else {
                continue;
            };
            let (leaves, first) = accounts.entry(inserted.account).or_default();
            leaves.push(inserted.leaf);
            if first.is_none() {
                first.clone_from(&record.change.sequence_number);
            }
        }
        // Accounts' logs are independent: append to several at once (each is a few round trips
        // to DynamoDB). Lambda retries from the lowest sequence number among the failures.
        let appends = accounts.into_iter().map(|(account, (leaves, first))| async move {
            match self.sequencer.append(signer, &account, leaves).await {
                Ok(done) => {
                    tracing::info!(%account, appended = done.appended, size = done.size, "log appended");
                    None
                }
                Err(error) => {
                    tracing::error!(%account, error = &error as &dyn std::error::Error, "appending to the log failed; the records are retried");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = first;
                    Some(failure)
                }
            }
        });
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = futures::stream::iter(appends)
            .buffer_unordered(ACCOUNTS_AT_ONCE)
            .filter_map(std::future::ready)
            .collect()
            .await;
        Ok(response)
    }
}

/// The account, sort key and leaf of an entry insert; `None` for anything else (idempotency
/// markers, updates), which the mapping's filter should not have passed.
fn inserted(record: &EventRecord) -> Option<Inserted> {
    if record.event_name != "INSERT" {
        return None;
    }
    let image = &record.change.new_image;
    let text = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    // Entries carry the type index key; markers do not.
    text(seclog::store::schema::TYPE_INDEX_PK)?;
    let (Some(pk), Some(sk), Some(json)) = (text("pk"), text("sk"), text("entry")) else {
        return None;
    };
    let parsed = AccountId::parse(pk)
        .ok()
        .zip(serde_json::from_str::<LogEntry>(json).ok())
        .and_then(|(account, entry)| Some((account, NewLeaf::of(sk.to_owned(), &entry).ok()?)));
    match parsed {
        Some((account, leaf)) => Some(Inserted { account, leaf }),
        None => {
            // Stored entries always parse; one that does not is reported, not guessed at.
            tracing::error!(
                event_id = record.event_id,
                "stored entry is unreadable; not sequenced"
            );
            None
        }
    }
}
