//! The stream fan-out function, invoked by the log table's stream with the accounts whose log
//! grew (the mapping's filter passes changes of `edge` items only). It queues one run of each of
//! their streams (`seclog::streams::fanout`); the stream delivery function does the
//! rest. Nothing here waits on a destination, so no merchant's endpoint slows the log.
//!
//! Any failure fails the batch and Lambda retries it: queueing a run twice is harmless (a run
//! that finds nothing new, or another run holding the lease, ends at once).
//!
//! Each invocation prints, as an EMF line, each change's wait from the log's write to this
//! function (`FanoutLag`, from the stream record's creation time, which DynamoDB rounds down to
//! the second: it errs long by under a second).

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::domain::AccountId;
use seclog::event_source::EventFunction;
use seclog::store::dynamodb::streams::StreamStore;
use seclog::store::sqs::delivery_queue::SqsDeliveryQueue;
use seclog::streams::directory_cache::{self, CachedDirectory};
use seclog::streams::fanout::fan_out;
use serde_dynamo::AttributeValue;

pub use aws_lambda_events::event::dynamodb::Event as LogEvent;

/// The log table's item whose change means "the account's log grew".
pub const EDGE: &str = "edge";

pub struct StreamFanout {
    streams: CachedDirectory<StreamStore>,
    queue: SqsDeliveryQueue,
}

impl StreamFanout {
    /// The composition root of the stream fan-out function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            streams: CachedDirectory::new(stack.stream_store()?, directory_cache::TTL),
            queue: stack.delivery_queue()?,
        })
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<StreamEvent>,
    ) -> Result<serde_json::Value, Error> {
        let grown: Vec<AccountId> = event.payload.records.iter().filter_map(grown).collect();
        emit_lags(&event.payload.records);
        // Boxed: the cached directory's and the queue's futures nested in one are too deep for
        // the compiler's layout query.
        let queued = Box::pin(fan_out(&grown, &self.streams, &self.queue)).await?;
        if queued > 0 {
            tracing::info!(accounts = grown.len(), queued, "stream runs queued");
        }
        Ok(serde_json::json!({"queued": queued}))
    }
}

/// The account of an edge item's change; `None` for any other item.
pub fn grown(record: &EventRecord) -> Option<AccountId> {
    let keys = &record.change.keys;
    let text = |name: &str| match keys.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    if text("sk")? != EDGE {
        return None;
    }
    AccountId::parse(text("pk")?).ok()
}

/// `FanoutLag` of the edge changes, in milliseconds, as EMF lines on stdout.
fn emit_lags(records: &[EventRecord]) {
    let now = jiff::Timestamp::now();
    let lags: Vec<f64> = records
        .iter()
        .filter(|record| grown(record).is_some())
        .map(|record| {
            let created = record.change.approximate_creation_date_time;
            let created = created.timestamp_millis();
            (now.as_millisecond() - created).max(0) as f64
        })
        .collect();
    let metrics = [seclog::telemetry::emf::Metric {
        name: "FanoutLag",
        unit: "Milliseconds",
        values: &lags,
    }];
    for line in seclog::telemetry::emf::lines("stream-fanout", now.as_millisecond(), &metrics) {
        println!("{line}");
    }
}

/// Lambda's entry point ([`seclog::event_source::serve`]).
impl EventFunction for StreamFanout {
    type Event = StreamEvent;
    type Answer = serde_json::Value;

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<serde_json::Value, Error> {
        self.handle(event).await
    }
}
