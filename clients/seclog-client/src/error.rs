//! What the client reports: refusals of `record()`, events the service rejected, and failures of
//! building, flushing and shutting down.

use std::sync::Arc;

use crate::Event;
use crate::transport::FieldError;

/// Why `record()` did not take an event; the event is handed back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The buffer holds its capacity of events not yet stored (the service is slow or down):
    /// the caller decides (drop, keep aside, or retry later). `record()` never waits.
    #[error("the client's buffer is full ({capacity} events waiting)")]
    Full { event: Box<Event>, capacity: usize },
    /// The client was shut down.
    #[error("the client is shut down")]
    Closed { event: Box<Event> },
}

impl RecordError {
    /// The event that was not recorded.
    pub fn into_event(self) -> Event {
        match self {
            RecordError::Full { event, .. } | RecordError::Closed { event } => *event,
        }
    }
}

/// `flush()` or `shutdown()` on a client that is shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client is shut down")]
pub struct Closed;

/// Why `shutdown()` did not end with every event settled.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// The grace period ended first. `events` were neither confirmed stored nor rejected: some
    /// may be stored (their answer was not in), so a later re-send under the same `event_id`s
    /// (say, from the producer's own outbox) still stores each exactly once.
    #[error("{} events unconfirmed when the grace period ended", .events.len())]
    Unconfirmed { events: Vec<Event> },
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no endpoint: set the API's base URL (or a queue)")]
    MissingEndpoint,
    #[error("both an endpoint and a queue are set: choose one transport")]
    TwoTransports,
    #[error("the queue transport needs the crate's `sqs` feature")]
    QueueNeedsFeature,
    #[error("the queue URL is not usable: {0}")]
    InvalidQueueUrl(String),
    #[error("no AWS region to sign for: set one, or use an SDK config that has one")]
    MissingRegion,
    #[error("no AWS credentials provider: set credentials, or load the default chain")]
    MissingCredentials,
    #[error("the HTTP client cannot be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the client needs a Tokio runtime to send from (build it inside one)")]
    NoRuntime,
}

/// An event the service refused for what it holds (400 or 409, or another 4xx that no retry
/// can change): it is not stored, and re-sending it unchanged would be refused again.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub event: Event,
    /// The HTTP status; `None` when the client refused it itself (larger than any request).
    pub status: Option<u16>,
    /// The problem's `detail`.
    pub detail: String,
    /// The invalid fields of this event (`ip`, `details.changes[0].to`, `event_id` for a 409),
    /// or the request-wide errors when the service named no event.
    pub errors: Vec<FieldError>,
}

/// Receives each rejected event, on the client's background task: keep it short (log it, count
/// it, or hand it to a channel).
pub type RejectionHandler = Arc<dyn Fn(Rejected) + Send + Sync>;
