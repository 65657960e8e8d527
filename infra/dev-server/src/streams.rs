//! The local stand-in for Lambda's DynamoDB event source mappings: reads a table's stream from
//! moto and invokes a function's handler with the same event Lambda sends, filtered as
//! `template.yaml`'s `FilterCriteria` filters it, in batches formed as Lambda forms them
//! ([`crate::backlog`]: one batch in flight per lane, the next from what waited, up to the
//! mapping's size, after its batching window): the export worker on the jobs table (one record
//! per batch), the sequencer on the events table.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use export_worker::{StreamEvent, Worker};
use lambda_runtime::{Context, LambdaEvent};
use sequencer::SequencerFunction;
use serde_json::{Map, Value, json};
use stream_fanout::StreamFanout;

use crate::backlog::Backlog;

/// The longest pause between two retries of a failed batch.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How often the stream's shards are listed again. Not before every read: a `DescribeStream` a
/// read, on a local stack that serves one request at a time, put one more wait between a write
/// and its consumer (the sequencer's and the fan-out's lag), for shards that change only when
/// moto splits one.
const DISCOVER_SHARDS_EVERY: Duration = Duration::from_secs(1);
/// A lane's backlog holds at most this many batches before the stream reader waits.
const BACKLOG_BATCHES: usize = 4;
/// Records a `GetRecords` call returns at most (DynamoDB Streams' own limit).
const PAGE_LIMIT: i32 = 1000;

/// An event source mapping's settings, as `template.yaml` declares them.
pub struct Mapping {
    /// `FilterCriteria`.
    pub accepts: fn(&Record) -> bool,
    /// `BatchSize`.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`: how long records are gathered before an invocation
    /// that is not full.
    pub batching_window: Duration,
    /// `MaximumRetryAttempts` (`None`: -1, until the batch succeeds).
    pub max_retries: Option<usize>,
    /// `ParallelizationFactor`: batches of a shard run this many at once, records of one
    /// partition key always in the same lane, in order.
    pub parallelization: usize,
}

/// The export worker on the jobs table. Its retries are safe: a retry takes over the job its
/// failed invocation left `running` (`ExportWorker::run_delivery`), so a few ride out a short
/// storage outage. Its lanes run accounts' exports side by side, an account's in order.
pub const EXPORT_JOBS: Mapping = Mapping {
    accepts: is_job_to_run,
    batch_size: 1,
    batching_window: Duration::ZERO,
    max_retries: Some(5),
    parallelization: 10,
};

/// The sequencer on the events table: entry inserts (items with the type index key, not
/// markers), retried until they succeed, gathered for a second so that each account's entries
/// are appended in fewer commits and checkpoints.
pub const NEW_ENTRIES: Mapping = Mapping {
    accepts: is_entry_insert,
    batch_size: 1000,
    batching_window: Duration::from_secs(1),
    max_retries: None,
    parallelization: 1,
};

/// The stream fan-out on the log table: changes of an account's `edge` item (its log grew),
/// at once (the delivery lag starts here), retried until they succeed.
pub const GROWN_LOGS: Mapping = Mapping {
    accepts: is_edge_change,
    batch_size: 100,
    batching_window: Duration::ZERO,
    max_retries: None,
    parallelization: 1,
};

/// A function behind an event source mapping.
pub trait StreamConsumer: Send + Sync + 'static {
    const MAPPING: Mapping;
    /// One invocation; an error (or a reported item failure) retries the batch.
    fn invoke(
        &self,
        event: LambdaEvent<StreamEvent>,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

impl StreamConsumer for Worker {
    const MAPPING: Mapping = EXPORT_JOBS;

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<(), String> {
        let outcomes = self.handle(event).await.map_err(|e| e.to_string())?;
        tracing::info!(?outcomes, "export worker invoked");
        Ok(())
    }
}

impl StreamConsumer for SequencerFunction {
    const MAPPING: Mapping = NEW_ENTRIES;

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<(), String> {
        let response = self.handle(event).await.map_err(|e| e.to_string())?;
        match response.batch_item_failures.len() {
            0 => Ok(()),
            n => Err(format!("{n} accounts' appends failed")),
        }
    }
}

impl StreamConsumer for StreamFanout {
    const MAPPING: Mapping = GROWN_LOGS;

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<(), String> {
        self.handle(event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The fan-out mapping's `FilterCriteria`: the log table's `edge` items.
fn is_edge_change(record: &Record) -> bool {
    record
        .dynamodb()
        .and_then(|d| d.keys.as_ref())
        .and_then(|keys| keys.get(seclog::store::dynamodb::schema::SK))
        .and_then(|sk| sk.as_s().ok())
        .is_some_and(|sk| sk == stream_fanout::EDGE)
}

fn is_entry_insert(record: &Record) -> bool {
    let name = record.event_name().map(|n| n.as_str()).unwrap_or_default();
    let is_entry = record
        .dynamodb()
        .and_then(|d| d.new_image())
        .is_some_and(|image| image.contains_key(seclog::store::dynamodb::schema::TYPE_INDEX_PK));
    name == "INSERT" && is_entry
}

pub struct StreamTrigger<C> {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub consumer: Arc<C>,
    /// The function's timeout: each invocation's deadline is now + this.
    pub timeout: Duration,
}

impl<C> StreamTrigger<C> {
    /// The same mapping, invoking another function.
    pub fn with_consumer<D>(self, consumer: D) -> StreamTrigger<D> {
        StreamTrigger {
            streams: self.streams,
            dynamodb: self.dynamodb,
            table: self.table,
            consumer: Arc::new(consumer),
            timeout: self.timeout,
        }
    }
}

impl<C: StreamConsumer> StreamTrigger<C> {
    /// Polls forever; run it as a task and abort it to stop (its lanes stop with it).
    pub async fn run(self) {
        let this = Arc::new(self);
        let arn = loop {
            match this.stream_arn().await {
                Some(arn) => break arn,
                None => tokio::time::sleep(POLL_EVERY).await,
            }
        };
        // One task per lane, each invoking one batch at a time, formed from its backlog.
        let mut tasks = tokio::task::JoinSet::new();
        let mapping = C::MAPPING;
        let lanes: Vec<Arc<Backlog<Record>>> = (0..mapping.parallelization.max(1))
            .map(|_| {
                let backlog = Arc::new(Backlog::new(BACKLOG_BATCHES * mapping.batch_size));
                let (this, arn, lane) = (this.clone(), arn.clone(), backlog.clone());
                tasks.spawn(async move {
                    loop {
                        let batch = lane
                            .next_batch(mapping.batch_size, mapping.batching_window)
                            .await;
                        this.invoke(&arn, &batch).await;
                    }
                });
                backlog
            })
            .collect();
        this.poll(&arn, &lanes).await;
    }

    /// Reads the stream as fast as the lanes take records, and hands each lane its accepted
    /// records; pauses only once it has caught up with the stream.
    async fn poll(&self, arn: &str, lanes: &[Arc<Backlog<Record>>]) {
        let mut iterators: HashMap<String, Option<String>> = HashMap::new();
        let mut discovered: Option<std::time::Instant> = None;
        loop {
            if discovered.is_none_or(|at| at.elapsed() >= DISCOVER_SHARDS_EVERY) {
                match self.discover_shards(arn, &mut iterators).await {
                    Ok(()) => discovered = Some(std::time::Instant::now()),
                    Err(error) => {
                        tracing::warn!(%error, table = %self.table, "describing the stream failed")
                    }
                }
            }
            let mut read_any = false;
            let mut at_tip = true;
            for iterator in iterators.values_mut() {
                let Some(current) = iterator.clone() else {
                    continue;
                };
                for lane in lanes {
                    lane.room().await;
                }
                match self
                    .streams
                    .get_records()
                    .shard_iterator(current)
                    .limit(PAGE_LIMIT)
                    .send()
                    .await
                {
                    Ok(output) => {
                        read_any |= !output.records().is_empty();
                        // A full page: the shard holds more, the lanes' batches wait to fill.
                        at_tip &= output.records().len() < PAGE_LIMIT as usize;
                        let mut by_lane: Vec<Vec<Record>> = vec![Vec::new(); lanes.len()];
                        for record in output.records() {
                            if (C::MAPPING.accepts)(record) {
                                by_lane[lane_of(record, lanes.len())].push(record.clone());
                            }
                        }
                        for (lane, records) in lanes.iter().zip(by_lane) {
                            lane.push(records);
                        }
                        *iterator = output.next_shard_iterator;
                    }
                    Err(error) => {
                        tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&error), "reading the stream failed")
                    }
                }
            }
            for lane in lanes {
                lane.set_at_tip(at_tip);
            }
            if !read_any {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }

    async fn stream_arn(&self) -> Option<String> {
        let output = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .ok()?;
        output.table?.latest_stream_arn
    }

    async fn discover_shards(
        &self,
        arn: &str,
        iterators: &mut HashMap<String, Option<String>>,
    ) -> Result<(), aws_sdk_dynamodbstreams::Error> {
        let description = self
            .streams
            .describe_stream()
            .stream_arn(arn)
            .send()
            .await?;
        let shards = description
            .stream_description
            .map(|d| d.shards.unwrap_or_default())
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id else { continue };
            if iterators.contains_key(&id) {
                continue;
            }
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(&id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await?
                .shard_iterator;
            iterators.insert(id, iterator);
        }
        Ok(())
    }

    async fn invoke(&self, arn: &str, records: &[Record]) {
        let records: Vec<Value> = records.iter().map(|r| lambda_record(arn, r)).collect();
        let payload = json!({ "Records": records });
        let event: StreamEvent = match serde_json::from_value(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "stream record is not a Lambda DynamoDB event");
                return;
            }
        };
        let mut attempt = 0;
        loop {
            let mut context = Context::default();
            context.request_id = ulid::Ulid::generate().to_string();
            context.deadline =
                (jiff::Timestamp::now().as_millisecond() + self.timeout.as_millis() as i64) as u64;
            match self
                .consumer
                .invoke(LambdaEvent::new(event.clone(), context))
                .await
            {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, attempt, "stream consumer failed"),
            }
            if C::MAPPING.max_retries.is_some_and(|max| attempt >= max) {
                tracing::error!(
                    "stream consumer failed past its retries; the batch goes to the on-failure destination"
                );
                return;
            }
            attempt += 1;
            let backoff = Duration::from_millis(200 << attempt.min(5)).min(MAX_BACKOFF);
            tokio::time::sleep(backoff).await;
        }
    }
}

/// The lane of a record: by its partition key, as Lambda keeps one key's records in order.
fn lane_of(record: &Record, lanes: usize) -> usize {
    let key = record
        .dynamodb()
        .and_then(|d| d.keys.as_ref())
        .and_then(|keys| keys.get(seclog::store::dynamodb::schema::PK))
        .and_then(|pk| pk.as_s().ok());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// The jobs mapping's `FilterCriteria`: new jobs (items with a `job`, not the accounts' in-flight
/// sets), and jobs a worker saved as `resuming`.
fn is_job_to_run(record: &Record) -> bool {
    let name = record.event_name().map(|n| n.as_str()).unwrap_or_default();
    let image = record.dynamodb().and_then(|d| d.new_image());
    let status = image
        .and_then(|image| image.get("status"))
        .and_then(|v| v.as_s().ok());
    let is_job = image.is_some_and(|image| image.contains_key("job"));
    (name == "INSERT" && is_job)
        || (name == "MODIFY" && status.map(String::as_str) == Some("resuming"))
}

/// The record as Lambda's event source mapping delivers it.
fn lambda_record(arn: &str, record: &Record) -> Value {
    let change = record.dynamodb();
    let image =
        |item: Option<&HashMap<String, AttributeValue>>| item.map(item_json).unwrap_or(Value::Null);
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or("us-east-1"),
        "eventSourceARN": arn,
        "dynamodb": {
            "ApproximateCreationDateTime": change
                .and_then(|c| c.approximate_creation_date_time())
                .map(|t| t.secs())
                .unwrap_or_else(|| jiff::Timestamp::now().as_second()),
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": image(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number()),
            "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or(0),
            "StreamViewType": change.and_then(|c| c.stream_view_type()).map(|v| v.as_str()),
        },
    })
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

/// DynamoDB's JSON form of an attribute value (`{"S": "..."}`, `{"N": "1"}`, ...).
fn attribute_json(value: &AttributeValue) -> Value {
    let (tag, inner) = match value {
        AttributeValue::S(s) => ("S", json!(s)),
        AttributeValue::N(n) => ("N", json!(n)),
        AttributeValue::B(b) => ("B", json!(STANDARD.encode(b.as_ref()))),
        AttributeValue::Ss(v) => ("SS", json!(v)),
        AttributeValue::Ns(v) => ("NS", json!(v)),
        AttributeValue::Bs(v) => (
            "BS",
            json!(
                v.iter()
                    .map(|b| STANDARD.encode(b.as_ref()))
                    .collect::<Vec<_>>()
            ),
        ),
        AttributeValue::M(m) => ("M", item_json(m)),
        AttributeValue::L(l) => ("L", Value::Array(l.iter().map(attribute_json).collect())),
        AttributeValue::Null(n) => ("NULL", json!(n)),
        AttributeValue::Bool(b) => ("BOOL", json!(b)),
        _ => ("NULL", json!(true)),
    };
    let mut object = Map::new();
    object.insert(tag.to_owned(), inner);
    Value::Object(object)
}
