//! How a batch reaches the service. The client's batching, retries and flushes are written
//! against [`Transport`] alone: [`HttpTransport`] is `POST /v1/events`, signed with SigV4;
//! `SqsTransport` (feature `sqs`) is the ingest queue.

mod http;
#[cfg(feature = "sqs")]
mod sqs;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use http::HttpTransport;
#[cfg(feature = "sqs")]
pub use sqs::SqsTransport;

use crate::Event;

/// Sends one batch and says what became of it. Implementations classify every answer into a
/// [`SendError`] kind; they never retry themselves (the client does, with backoff).
pub trait Transport: Send + Sync + 'static {
    /// How much one batch may hold on this path.
    fn limits(&self) -> BatchLimits;

    /// Sends `events` as one request. On success, one receipt per event, in order.
    fn send(
        &self,
        events: &[EncodedEvent],
    ) -> impl Future<Output = Result<Vec<Receipt>, SendError>> + Send;
}

/// The size of one request: at most `max_events` events and `max_bytes` bytes, counting
/// `envelope_bytes` once and `separator_bytes` between two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    pub envelope_bytes: usize,
    pub separator_bytes: usize,
}

impl BatchLimits {
    /// The bytes of a request holding events of `event_bytes` bytes in all.
    pub fn request_bytes(&self, events: usize, event_bytes: usize) -> usize {
        self.envelope_bytes + event_bytes + self.separator_bytes * events.saturating_sub(1)
    }
}

/// An event and its JSON, encoded once when recorded so that every retry sends the very same
/// bytes under the same `event_id`.
#[derive(Debug, Clone)]
pub struct EncodedEvent {
    event: Arc<Event>,
    json: Arc<str>,
}

impl EncodedEvent {
    pub fn new(event: Event) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(&event)?;
        Ok(Self {
            event: Arc::new(event),
            json: json.into(),
        })
    }

    pub fn event(&self) -> &Event {
        &self.event
    }

    pub fn json(&self) -> &str {
        &self.json
    }

    pub(crate) fn into_event(self) -> Event {
        Arc::unwrap_or_clone(self.event)
    }
}

/// The service's answer for one stored event (on the queue: one message the queue took).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's id (the first one's, for a duplicate); on the queue, the message's id (the
    /// entry is written later, by the service's consumer).
    pub id: String,
    /// True when the `event_id` was already stored: a retry of an event that had made it. The
    /// queue never knows: always false there.
    pub duplicate: bool,
}

/// Why a batch was not (known to be) stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Nothing or not all may have been stored: send the same batch again later (5xx, 429,
    /// 408, 401/403, timeouts, connection errors). `retry_after` is the service's wish.
    #[error("retryable: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The request is larger than the service takes (413): send it in smaller parts.
    #[error("the request is too large")]
    TooLarge,
    /// Refused for what it holds (400, 409, other 4xx): nothing of it was stored. Errors that
    /// name an event ([`FieldError::event`]) reject that event only; without any, the batch.
    #[error("rejected ({}): {}", .0.status, .0.detail)]
    Rejected(Problem),
    /// A batch answered event by event (a queue's): `accepted` (positions, receipts) are done,
    /// `refused` (positions, why) can never be taken, and the rest are sent again after a
    /// backoff.
    #[error("partly sent: {reason}")]
    Partial {
        accepted: Vec<(usize, Receipt)>,
        refused: Vec<(usize, String)>,
        reason: String,
    },
}

/// A problem answer (RFC 9457), as far as the client needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

/// One invalid field: `event` is its event's position in the batch, when the service named one
/// (`events[3].ip`), and `field` the path inside the event (`ip`), or the service's whole path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub event: Option<usize>,
    pub field: String,
    pub message: String,
}
