//! The handle producers hold: `record()` hands an event to the background task and returns;
//! `flush()` and `shutdown()` wait for what was recorded. [`ClientBuilder`] sets it up.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::{mpsc, oneshot};

use crate::backoff::RetryPolicy;
use crate::batch::Packer;
use crate::buffer::BufferBound;
use crate::delivery::Delivery;
use crate::error::{BuildError, Closed, RecordError, Rejected, RejectionHandler, ShutdownError};
use crate::signing::RequestSigner;
use crate::stats::{Counters, Stats};
use crate::transport::{HttpTransport, Transport};
use crate::worker::{Command, Pacing, Worker};
use crate::{Event, credentials};

/// Sends security events in the background. Cheap to clone: clones share one buffer and one
/// background task.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    buffer: Arc<BufferBound>,
    counters: Arc<Counters>,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Takes `event` for sending and returns its `event_id` (the caller's, or a new ULID). It
    /// never waits: a full buffer is [`RecordError::Full`], with the event handed back.
    pub fn record(&self, mut event: Event) -> Result<String, RecordError> {
        let event_id = event.ensure_event_id().to_owned();
        let shared = &self.shared;
        if !shared.buffer.try_acquire() {
            return Err(RecordError::Full {
                event: Box::new(event),
                capacity: shared.buffer.capacity(),
            });
        }
        if let Err(mpsc::error::SendError(command)) = shared.commands.send(Command::Record(event)) {
            shared.buffer.release(1);
            let Command::Record(event) = command else {
                unreachable!("the command sent was a record")
            };
            return Err(RecordError::Closed {
                event: Box::new(event),
            });
        }
        shared.counters.recorded();
        Ok(event_id)
    }

    /// Waits until every event recorded before this call is stored or rejected (rejections go to
    /// the rejection handler first). Retries have no end: bound the wait with
    /// `tokio::time::timeout` if the caller must not wait out an outage.
    pub async fn flush(&self) -> Result<(), Closed> {
        let (answer, done) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Flush(answer))
            .map_err(|_| Closed)?;
        done.await.map_err(|_| Closed)
    }

    /// Stops taking events (every clone's `record()` then answers `Closed`), sends everything
    /// held, and waits at most `grace` for it to be stored or rejected. Events still unconfirmed
    /// then are returned in the error, never dropped unseen.
    pub async fn shutdown(&self, grace: Duration) -> Result<(), ShutdownError> {
        let (unconfirmed, left) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Shutdown { grace, unconfirmed })
            .map_err(|_| Closed)?;
        let events = left.await.map_err(|_| Closed)?;
        if events.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError::Unconfirmed { events })
        }
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot(self.shared.buffer.held())
    }
}

/// The client's settings; [`Client::builder`] starts from the defaults documented on each
/// setter.
pub struct ClientBuilder {
    endpoint: Option<String>,
    queue_url: Option<String>,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    flush_interval: Duration,
    buffer_capacity: usize,
    max_in_flight: usize,
    max_batch_events: usize,
    max_batch_bytes: usize,
    request_timeout: Duration,
    retry: RetryPolicy,
    on_rejected: RejectionHandler,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            endpoint: None,
            queue_url: None,
            region: None,
            credentials: None,
            flush_interval: Duration::from_secs(1),
            buffer_capacity: 10_000,
            max_in_flight: 4,
            max_batch_events: usize::MAX,
            max_batch_bytes: usize::MAX,
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            on_rejected: Arc::new(log_rejection),
        }
    }
}

impl ClientBuilder {
    /// The API's base URL: `https://<api>.execute-api.<region>.amazonaws.com` (or its custom
    /// domain), `http://127.0.0.1:3000` for `make dev`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sends through the ingest queue instead of the API (feature `sqs`): the stack's
    /// `IngestQueueUrl` (`make dev` prints its local one). The same `record()`, batching and
    /// retries; SQS takes each event as it is, and the service's consumer validates and stores
    /// it later, sending any it can never store to the queue's dead-letter queue with the
    /// reason: nothing is rejected to the caller on this path but what SQS itself refuses.
    /// Every event needs an `event_id` there, which the client always gives.
    pub fn queue(mut self, queue_url: impl Into<String>) -> Self {
        self.queue_url = Some(queue_url.into());
        self
    }

    /// The region the API is in (the signature's scope); `us-east-1` for `make dev`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Fixed credentials (`make dev`: access key `local`, secret `local`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(credentials));
        self
    }

    /// Any credentials provider (refreshed shortly before what it gives expires).
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// The region and credentials of an SDK configuration the service already loaded; a
    /// region or credentials set before are kept.
    pub fn sdk_config(mut self, config: &SdkConfig) -> Self {
        if self.region.is_none() {
            self.region = config.region().map(ToString::to_string);
        }
        if self.credentials.is_none() {
            self.credentials = config.credentials_provider();
        }
        self
    }

    /// The AWS SDK's default chain (environment, profile, web identity, ECS, EC2 instance
    /// metadata) and region, as any SDK client of the service would find them.
    pub async fn default_credentials(self) -> Self {
        let config = credentials::load_default().await;
        self.sdk_config(&config)
    }

    /// How long a batch that is not full waits for more events (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How many events may wait to be stored before `record()` answers `Full` (default 10,000).
    pub fn buffer_capacity(mut self, events: usize) -> Self {
        self.buffer_capacity = events.max(1);
        self
    }

    /// How many requests may be in flight at once (default 4).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Fewer events per request than the transport allows (the API: 100).
    pub fn max_batch_events(mut self, events: usize) -> Self {
        self.max_batch_events = events.max(1);
        self
    }

    /// Smaller requests than the transport allows (the API: 1 MiB).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    /// How long one request waits for its answer before it is retried (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Receives every rejected event (default: logged with `tracing` at error level).
    pub fn on_rejected(mut self, handler: impl Fn(Rejected) + Send + Sync + 'static) -> Self {
        self.on_rejected = Arc::new(handler);
        self
    }

    /// A client of `POST /v1/events` (an [`endpoint`](Self::endpoint)) signed with SigV4, or
    /// of the ingest queue (a [`queue`](Self::queue)); starts its background task on the
    /// current Tokio runtime.
    pub fn build(self) -> Result<Client, BuildError> {
        if self.endpoint.is_some() && self.queue_url.is_some() {
            return Err(BuildError::TwoTransports);
        }
        let region = self.region.clone().ok_or(BuildError::MissingRegion)?;
        let credentials = self
            .credentials
            .clone()
            .ok_or(BuildError::MissingCredentials)?;
        if let Some(queue_url) = self.queue_url.clone() {
            return self.build_for_queue(&queue_url, region, credentials);
        }
        let endpoint = self.endpoint.clone().ok_or(BuildError::MissingEndpoint)?;
        let signer = RequestSigner::new(credentials, region);
        let transport = HttpTransport::new(&endpoint, signer, self.request_timeout)?;
        self.build_with_transport(transport)
    }

    #[cfg(feature = "sqs")]
    fn build_for_queue(
        self,
        queue_url: &str,
        region: String,
        credentials: SharedCredentialsProvider,
    ) -> Result<Client, BuildError> {
        let transport = crate::transport::SqsTransport::connect(
            queue_url,
            region,
            credentials,
            self.request_timeout,
        )
        .map_err(BuildError::InvalidQueueUrl)?;
        self.build_with_transport(transport)
    }

    #[cfg(not(feature = "sqs"))]
    fn build_for_queue(
        self,
        _queue_url: &str,
        _region: String,
        _credentials: SharedCredentialsProvider,
    ) -> Result<Client, BuildError> {
        Err(BuildError::QueueNeedsFeature)
    }

    /// A client sending through another [`Transport`] (endpoint, region and credentials
    /// are then the transport's business).
    pub fn build_with_transport<T: Transport>(self, transport: T) -> Result<Client, BuildError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let mut limits = transport.limits();
        limits.max_events = limits.max_events.min(self.max_batch_events);
        limits.max_bytes = limits.max_bytes.min(self.max_batch_bytes);
        let buffer = Arc::new(BufferBound::new(self.buffer_capacity));
        let counters = Arc::new(Counters::default());
        let (commands, received) = mpsc::unbounded_channel();
        let delivery = Delivery {
            transport,
            retry: self.retry,
            counters: Arc::clone(&counters),
            on_rejected: self.on_rejected,
        };
        let pacing = Pacing {
            flush_interval: self.flush_interval,
            max_in_flight: self.max_in_flight,
        };
        let worker = Worker::new(
            received,
            delivery,
            Arc::clone(&buffer),
            pacing,
            Packer::new(limits),
        );
        runtime.spawn(worker.run());
        Ok(Client {
            shared: Arc::new(Shared {
                commands,
                buffer,
                counters,
            }),
        })
    }
}

fn log_rejection(rejected: Rejected) {
    let fields: Vec<String> = rejected
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    tracing::error!(
        account_id = rejected.event.account_id(),
        event_type = %rejected.event.event_type(),
        event_id = rejected.event.id().unwrap_or_default(),
        status = rejected.status,
        "security logs: event rejected: {}; {}",
        rejected.detail,
        fields.join("; ")
    );
}

#[cfg(test)]
mod tests;
