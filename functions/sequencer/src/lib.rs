//! The sequencer function, invoked by the events table's stream with newly stored entries (the
//! event source mapping's filter passes entry inserts only). It appends each account's entries
//! to its Merkle log and signs a checkpoint when one is due (`seclog::sequencer`). Invoked by
//! its schedule (every minute), it signs the checkpoints of the accounts whose log grew since
//! their last one (the pending set).
//!
//! It also counts the entries it takes per producer and type (`seclog::coverage`), one update
//! per producer per invocation, written beside the appends, off ingest's path; a failure there
//! is logged, never retried as the batch's (coverage is a gauge, the log is the record).
//!
//! Failures are reported per record (`ReportBatchItemFailures`): Lambda retries from the
//! earliest record of an account whose append failed; the entries of that batch already in the
//! log are recognised by their `log_index` stamp and not appended again.

use std::collections::BTreeMap;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::coverage::Tally;
use seclog::coverage::ports::CoverageStore;
use seclog::domain::{AccountId, LogEntry};
use seclog::event_source::EventFunction;
use seclog::sequencer::{NewLeaf, Sequencer, Swept};
use seclog::store::dynamodb::coverage::DynamoCoverage;
use seclog::store::dynamodb::log::LogStore;
use seclog::store::kms::log_keys::LogKeys;
use serde_dynamo::AttributeValue;

pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};

/// What invokes the sequencer: only the members that tell the two kinds apart (and a batch's
/// records) are read; the rest of an event is ignored.
#[derive(Debug, serde::Deserialize)]
pub struct Invocation {
    #[serde(rename = "Records", default)]
    records: Option<Vec<EventRecord>>,
    #[serde(default)]
    source: Option<String>,
}

pub struct SequencerFunction {
    sequencer: Sequencer<LogStore>,
    keys: LogKeys,
    coverage: DynamoCoverage,
}

/// An entry insert, as the stream shows it.
struct Inserted {
    account: AccountId,
    leaf: NewLeaf,
    entry: LogEntry,
    /// When the entry was stored: the stream record's creation time (DynamoDB rounds it down to
    /// the second, so the lag measured from it errs long, by under a second). The sequencing
    /// lag runs from here; ingest's own time before the write is its latency, not this lag.
    stored_at: jiff::Timestamp,
}

impl SequencerFunction {
    /// The composition root of the sequencer function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            sequencer: Sequencer::new(stack.log_store()?)
                .signing_every(stack.settings.checkpoint_every),
            keys: stack.log_keys()?,
            coverage: stack.coverage_store()?,
        })
    }

    /// Either invocation: a stream batch (it has `Records`) or the schedule's event
    /// (`source: aws.events`), read in one pass. A batch whose records do not parse fails the
    /// invocation, so Lambda retries it: never mistaken for the schedule and acknowledged.
    pub async fn invoke(&self, event: LambdaEvent<Invocation>) -> Result<serde_json::Value, Error> {
        let (invocation, context) = (event.payload, event.context);
        if let Some(records) = invocation.records {
            let mut batch = StreamEvent::default();
            batch.records = records;
            // Boxed: the two handlers' futures nested in one are too deep for the compiler.
            let response = Box::pin(self.handle(LambdaEvent::new(batch, context))).await?;
            return Ok(serde_json::to_value(response)?);
        }
        if invocation.source.as_deref() == Some("aws.events") {
            let swept = Box::pin(self.sweep()).await?;
            return Ok(serde_json::json!({"signed": swept.signed, "moved": swept.moved}));
        }
        Err("neither a stream batch nor the schedule's event".into())
    }

    async fn count_coverage(&self, tally: &Tally) -> Result<(), seclog::storage::StoreError> {
        if tally.is_empty() {
            return Ok(());
        }
        self.coverage.add(tally).await
    }

    /// Signs a checkpoint for every account in the pending set.
    pub async fn sweep(&self) -> Result<Swept, Error> {
        let signer = self.keys.signer().await?;
        let swept = self.sequencer.sign_pending(signer).await?;
        if swept.signed + swept.moved > 0 {
            tracing::info!(
                signed = swept.signed,
                moved = swept.moved,
                "pending checkpoints signed"
            );
        }
        Ok(swept)
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<StreamEvent>,
    ) -> Result<DynamoDbEventResponse, Error> {
        let started = std::time::Instant::now();
        let signer = self.keys.signer().await?;
        // Per account, the leaves, when each was stored, and the sequence number of the
        // account's first record.
        let mut accounts: BTreeMap<AccountId, Batch> = BTreeMap::new();
        for record in &event.payload.records {
            let Some(inserted) = inserted(record) else {
                continue;
            };
            let batch = accounts.entry(inserted.account).or_default();
            batch.leaves.push(inserted.leaf);
            batch.entries.push(inserted.entry);
            batch.stored.push(inserted.stored_at);
            if batch.first.is_none() {
                batch.first.clone_from(&record.change.sequence_number);
            }
        }
        // Accounts' commits share transactions (up to 100 items each). Lambda retries from the
        // lowest sequence number among the failures.
        let leaves = accounts
            .iter_mut()
            .map(|(account, batch)| (account.clone(), std::mem::take(&mut batch.leaves)))
            .collect();
        // Coverage is counted as the batch is taken, and written beside the appends, not after
        // them: one more round trip after the appends cost the sequencer a third of its pace
        // under `make load` (docs/performance.md). A retried batch counts again (a gauge).
        let mut tally = Tally::default();
        for batch in accounts.values() {
            batch.entries.iter().for_each(|entry| tally.count(entry));
        }
        let (appended, counted) = tokio::join!(
            self.sequencer.append_all(signer, leaves),
            self.count_coverage(&tally)
        );
        if let Err(error) = counted {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "counting producer coverage failed"
            );
        }
        let sequenced_at = jiff::Timestamp::now();
        let mut lags = Vec::new();
        let mut response = DynamoDbEventResponse::default();
        for (account, result) in appended {
            let batch = accounts.remove(&account).unwrap_or_default();
            match result {
                Ok(done) => {
                    tracing::info!(%account, appended = done.appended, size = done.size, "log appended");
                    lags.extend(
                        batch
                            .stored
                            .iter()
                            .map(|r| sequenced_at.duration_since(*r).as_millis_f64()),
                    );
                }
                Err(error) => {
                    tracing::error!(%account, error = &error as &dyn std::error::Error, "appending to the log failed; the records are retried");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = batch.first;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        emit_metrics(event.payload.records.len(), &lags, started.elapsed());
        emit_coverage(&tally);
        Ok(response)
    }
}

/// Lambda's entry point ([`seclog::event_source::serve`]): [`SequencerFunction::invoke`].
impl EventFunction for SequencerFunction {
    type Event = Invocation;
    type Answer = serde_json::Value;

    async fn invoke(&self, event: LambdaEvent<Invocation>) -> Result<serde_json::Value, Error> {
        SequencerFunction::invoke(self, event).await
    }
}

/// One account's records of a batch.
#[derive(Default)]
struct Batch {
    leaves: Vec<NewLeaf>,
    entries: Vec<LogEntry>,
    stored: Vec<jiff::Timestamp>,
    first: Option<String>,
}

/// The invocation's metrics as EMF lines on stdout (CloudWatch in Lambda, the server's log
/// locally, which `make load` reads): each appended entry's lag from stored to sequenced, how
/// many were appended, how many records the batch held (appended, failed or skipped), and how
/// long the invocation was busy.
fn emit_metrics(batch_size: usize, lags: &[f64], busy: std::time::Duration) {
    use seclog::telemetry::emf::{Metric, lines};
    let metrics = [
        Metric {
            name: "SequencingLag",
            unit: "Milliseconds",
            values: lags,
        },
        Metric {
            name: "EntriesSequenced",
            unit: "Count",
            values: &[lags.len() as f64],
        },
        Metric {
            name: "SequencerBatchSize",
            unit: "Count",
            values: &[batch_size as f64],
        },
        Metric {
            name: "SequencerBusy",
            unit: "Milliseconds",
            values: &[busy.as_secs_f64() * 1000.0],
        },
    ];
    for line in lines(
        "sequencer",
        jiff::Timestamp::now().as_millisecond(),
        &metrics,
    ) {
        println!("{line}");
    }
}

/// `EntriesByProducer`, one line per producer and type appended: the coverage as a metric, so
/// a producer that stops sending a type shows (and can be alarmed on) in CloudWatch.
fn emit_coverage(tally: &Tally) {
    use seclog::telemetry::emf::{Dimension, Metric, lines_by};
    let now = jiff::Timestamp::now().as_millisecond();
    for row in tally.rows() {
        let dimensions = [
            Dimension {
                name: "Producer",
                value: &row.producer,
            },
            Dimension {
                name: "EventType",
                value: row.event_type.as_str(),
            },
        ];
        let count = Metric {
            name: "EntriesByProducer",
            unit: "Count",
            values: &[row.count as f64],
        };
        for line in lines_by("sequencer", &dimensions, now, &[count]) {
            println!("{line}");
        }
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
    text(seclog::store::dynamodb::schema::TYPE_INDEX_PK)?;
    let (Some(pk), Some(sk), Some(json)) = (text("pk"), text("sk"), text("entry")) else {
        return None;
    };
    let parsed = AccountId::parse(pk)
        .ok()
        .zip(serde_json::from_str::<LogEntry>(json).ok())
        .and_then(|(account, entry)| {
            let leaf = NewLeaf::of(sk.to_owned(), &entry).ok()?;
            Some((account, leaf, entry))
        });
    // A record without a creation time (the event's default, the epoch) counts as stored now.
    let created = record.change.approximate_creation_date_time;
    let stored_at =
        jiff::Timestamp::new(created.timestamp(), created.timestamp_subsec_nanos() as i32)
            .ok()
            .filter(|t| t.as_second() > 0)
            .unwrap_or_else(jiff::Timestamp::now);
    match parsed {
        Some((account, leaf, entry)) => Some(Inserted {
            account,
            leaf,
            entry,
            stored_at,
        }),
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
