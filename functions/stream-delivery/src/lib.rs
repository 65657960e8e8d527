//! The stream delivery function, invoked by the queue of stream runs (SQS, one message per run:
//! `{"account", "stream"}`). Each message is one run of one stream (`seclog::streams::run`):
//! deliver what the stream has not had yet, then queue what comes next (a run now when the time
//! budget ran out, a later one for a failing stream's backoff or a busy lease).
//!
//! Runs of one invocation go side by side; a run's storage fault reports its message as failed
//! (`ReportBatchItemFailures`): SQS shows it again after its visibility timeout, and a message
//! that keeps failing (or does not parse) goes to the dead-letter queue, which is alarmed.
//! A destination's failure is not a fault here: the run stores it and queues its retry.
//!
//! Each invocation prints its metrics as EMF lines (CloudWatch metrics with no API call; the
//! template alarms on `DeliveryLag`): each acknowledged batch's lag from its newest entry's
//! ingest to the acknowledgment, each message's wait in the queue, each run's duration.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};
use lambda_runtime::{Error, LambdaEvent};
use seclog::config::{ConfigError, Stack};
use seclog::event_source::EventFunction;
use seclog::store::dynamodb::streams::StreamStore;
use seclog::store::sqs::delivery_queue::{RunMessage, SqsDeliveryQueue};
use seclog::store::stream_destinations::StreamDestinations;
use seclog::store::stream_log::StreamLogReader;
use seclog::streams::ports::{DeliveryQueue, ScheduledRun};
use seclog::streams::record::render;
use seclog::streams::run::{DeliveryRun, Ran};
use seclog::streams::webhook_client::SystemResolver;
use seclog::telemetry::emf::{Metric, lines};

pub use aws_lambda_events::event::sqs::SqsEvent as RunEvent;

/// What a message's run left to do: the next run to queue, if any; `Err` reports the message
/// failed (SQS shows it again).
type RunOutcome = Result<Option<ScheduledRun>, String>;

/// Runs of one invocation at once.
const CONCURRENT_RUNS: usize = 10;
/// A run's longest time: well within the function's timeout and the lease.
const RUN_BUDGET: Duration = Duration::from_secs(60);

pub struct StreamDelivery {
    streams: StreamStore,
    log: StreamLogReader,
    destinations: StreamDestinations<SystemResolver>,
    queue: SqsDeliveryQueue,
}

impl StreamDelivery {
    /// The composition root of the stream delivery function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            streams: stack.stream_store()?,
            log: stack.stream_log()?,
            destinations: stack.stream_destinations()?,
            queue: stack.delivery_queue()?,
        })
    }

    pub async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let deadline = budget(&event.context);
        let metrics = Metrics::default();
        let metrics = &metrics;
        let outcomes: Vec<(Option<String>, RunOutcome)> = stream::iter(event.payload.records)
            .map(|message| async move {
                let id = message.message_id.clone();
                metrics.received(&message);
                let started = Instant::now();
                let outcome = self.run(&message, deadline, metrics).await;
                metrics.ran(started.elapsed());
                (id, outcome)
            })
            .buffer_unordered(CONCURRENT_RUNS)
            .collect()
            .await;
        let mut next = Vec::new();
        let mut response = SqsBatchResponse::default();
        for (id, outcome) in outcomes {
            match outcome {
                Ok(Some(run)) => next.push((id, run)),
                Ok(None) => {}
                Err(reason) => {
                    tracing::error!(message = id.as_deref().unwrap_or("-"), %reason, "stream run failed; SQS shows the message again");
                    response.batch_item_failures.push(failure(id));
                }
            }
        }
        if !next.is_empty() {
            let runs: Vec<ScheduledRun> = next.iter().map(|(_, run)| run.clone()).collect();
            if let Err(error) = self.queue.enqueue(&runs).await {
                // Not queued: let SQS show these messages again instead.
                tracing::error!(%error, "queueing the next runs failed");
                response
                    .batch_item_failures
                    .extend(next.into_iter().map(|(id, _)| failure(id)));
            }
        }
        metrics.emit();
        Ok(response)
    }

    /// One message's run; what to queue next.
    async fn run(
        &self,
        message: &SqsMessage,
        deadline: Timestamp,
        metrics: &Metrics,
    ) -> RunOutcome {
        let Some((account, stream)) = message.body.as_deref().and_then(RunMessage::parse) else {
            return Err("the message is not a stream run".into());
        };
        let run = DeliveryRun {
            streams: &self.streams,
            log: &self.log,
            destination: &self.destinations,
            render,
            acknowledged: &|newest, at| metrics.acknowledged(newest.received_at, at),
        };
        let ran = run
            .run(&account, &stream, Timestamp::now, deadline, || {
                ulid::Ulid::generate().random() as u64
            })
            .await
            .map_err(|e| e.to_string())?;
        let delay = match ran {
            Ran::CaughtUp { delivered } => {
                if delivered > 0 {
                    tracing::info!(%account, %stream, delivered, "stream caught up");
                }
                return Ok(None);
            }
            Ran::Done => return Ok(None),
            Ran::More { delivered } => {
                tracing::info!(%account, %stream, delivered, "stream run goes on");
                Duration::ZERO
            }
            Ran::RetryAt(at) => Timestamp::now()
                .duration_until(at)
                .try_into()
                .unwrap_or(Duration::ZERO),
        };
        Ok(Some(ScheduledRun {
            account,
            stream,
            delay,
        }))
    }
}

/// When the runs of this invocation stop: [`RUN_BUDGET`], and a margin before Lambda's deadline.
fn budget(context: &lambda_runtime::Context) -> Timestamp {
    let now = Timestamp::now();
    let run = now + SignedDuration::try_from(RUN_BUDGET).unwrap_or(SignedDuration::ZERO);
    let lambda = Timestamp::from_millisecond(context.deadline as i64)
        .ok()
        .filter(|deadline| deadline.as_second() > 0)
        .map(|deadline| deadline - SignedDuration::from_secs(15));
    match lambda {
        Some(lambda) => run.min(lambda),
        None => run,
    }
}

/// One invocation's metrics, in milliseconds.
#[derive(Default)]
struct Metrics {
    lags: Mutex<Vec<f64>>,
    queue_waits: Mutex<Vec<f64>>,
    runs: Mutex<Vec<f64>>,
}

impl Metrics {
    /// The message's time in the queue, from SQS's `SentTimestamp` (epoch ms).
    fn received(&self, message: &SqsMessage) {
        let sent = message
            .attributes
            .get("SentTimestamp")
            .and_then(|ms| ms.parse::<i64>().ok());
        if let Some(sent) = sent {
            let waited = (Timestamp::now().as_millisecond() - sent).max(0) as f64;
            push(&self.queue_waits, waited);
        }
    }

    fn acknowledged(&self, received_at: Timestamp, at: Timestamp) {
        let lag = at.duration_since(received_at).as_secs_f64() * 1000.0;
        push(&self.lags, lag.max(0.0));
    }

    fn ran(&self, took: Duration) {
        push(&self.runs, took.as_secs_f64() * 1000.0);
    }

    /// EMF lines on stdout: CloudWatch in Lambda, the server's log locally (`make load`).
    fn emit(&self) {
        let take = |values: &Mutex<Vec<f64>>| {
            std::mem::take(&mut *values.lock().unwrap_or_else(|e| e.into_inner()))
        };
        let (lags, waits, runs) = (take(&self.lags), take(&self.queue_waits), take(&self.runs));
        let metrics = [
            Metric {
                name: "DeliveryLag",
                unit: "Milliseconds",
                values: &lags,
            },
            Metric {
                name: "RunQueueWait",
                unit: "Milliseconds",
                values: &waits,
            },
            Metric {
                name: "RunDuration",
                unit: "Milliseconds",
                values: &runs,
            },
        ];
        for line in lines(
            "stream-delivery",
            Timestamp::now().as_millisecond(),
            &metrics,
        ) {
            println!("{line}");
        }
    }
}

fn push(values: &Mutex<Vec<f64>>, value: f64) {
    values.lock().unwrap_or_else(|e| e.into_inner()).push(value);
}

fn failure(id: Option<String>) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id.unwrap_or_default();
    failure
}

/// Lambda's entry point ([`seclog::event_source::serve`]).
impl EventFunction for StreamDelivery {
    type Event = SqsEvent;
    type Answer = SqsBatchResponse;

    async fn invoke(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        self.handle(event).await
    }
}
