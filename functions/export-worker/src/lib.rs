//! The export worker, invoked by the export jobs table's stream (new jobs, and jobs saved as
//! `resuming` by a previous invocation), as filtered by the event source mapping. Each
//! invocation that finished an export prints its metrics (`metrics`).

mod metrics;

use jiff::Timestamp;
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::domain::AccountId;
use seclog::domain::export::ExportId;
use seclog::event_source::EventFunction;
use seclog::export::worker::Outcome;
use seclog::store::dynamodb::exports::VERSION_ATTRIBUTE;
use seclog::store::export_ports::{AwsExportWorker, LogSealer};

pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};

pub struct Worker {
    worker: AwsExportWorker,
}

impl Worker {
    pub fn new(worker: AwsExportWorker) -> Self {
        Self { worker }
    }

    /// The composition root of the export worker function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(AwsExportWorker::new(
            stack.export_store()?,
            stack.event_store()?,
            stack.exports_bucket()?,
            LogSealer {
                log: stack.log_store()?,
                keys: std::sync::Arc::new(stack.log_keys()?),
            },
            stack.settings.worker.clone(),
        )))
    }

    /// Runs every job of the batch. An error (storage unreachable) makes Lambda retry the
    /// batch; the job's own state makes the retry safe.
    pub async fn handle(&self, event: LambdaEvent<StreamEvent>) -> Result<Vec<Outcome>, Error> {
        let deadline = Timestamp::from_millisecond(event.context.deadline as i64)
            .map_err(|e| Error::from(format!("bad deadline: {e}")))?;
        let mut outcomes = Vec::with_capacity(event.payload.records.len());
        let mut finished = metrics::Finished::default();
        for record in &event.payload.records {
            let Some((account, id)) = export_of(record) else {
                tracing::warn!(
                    event_id = record.event_id,
                    "stream record without an export key; skipped"
                );
                outcomes.push(Outcome::Skipped("not an export job"));
                continue;
            };
            // The job's version this record wrote: tells a retry after a dead invocation.
            let version = match record.change.new_image.get(VERSION_ATTRIBUTE) {
                Some(serde_dynamo::AttributeValue::N(n)) => n.parse().ok(),
                _ => None,
            };
            let outcome = self
                .worker
                .run_delivery(&account, &id, version, deadline)
                .await?;
            finished.count(&outcome, record, Timestamp::now());
            outcomes.push(outcome);
        }
        finished.emit();
        Ok(outcomes)
    }
}

/// Lambda's entry point ([`seclog::event_source::serve`]): [`Worker::handle`], its outcomes
/// answered as text (they show in the invocation's result).
impl EventFunction for Worker {
    type Event = StreamEvent;
    type Answer = Vec<String>;

    /// One export at a time per sandbox: a flat allocator (`seclog::export::memory`).
    fn prepare_process() {
        seclog::export::memory::keep_large_buffers_off_the_heap();
    }

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<Vec<String>, Error> {
        let outcomes = self.handle(event).await?;
        Ok(outcomes.iter().map(|o| format!("{o:?}")).collect())
    }
}

/// The export a stream record is about: the job item's key.
pub fn export_of(record: &StreamRecord) -> Option<(AccountId, ExportId)> {
    let text = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    let account = AccountId::parse(text("pk")?).ok()?;
    let id = ExportId::parse(text("sk")?).ok()?;
    Some((account, id))
}
