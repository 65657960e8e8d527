//! Producer client of the security logs service: internal services record security events
//! (`login`, `payout_account.updated`, ...) with one cheap call, and the client sends them to
//! `POST /v1/events` in the background, in batches, signed with SigV4, retried until stored.
//!
//! ```no_run
//! use seclog_client::{Actor, Client, Credentials, Event, EventType};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .endpoint("http://127.0.0.1:3000") // `make dev`; in AWS the API's base URL
//!     .region("us-east-1")
//!     .credentials(Credentials::new("local", "local", None, None, "make dev"))
//!     // In AWS: `.default_credentials().await` (the SDK's default chain) instead.
//!     .on_rejected(|rejected| eprintln!("rejected: {} {:?}", rejected.detail, rejected.errors))
//!     .build()?;
//! let event_id = client.record(
//!     Event::new("acct_123", EventType::Login, Actor::new("u_1").name("Alice"))
//!         .ip("203.0.113.45".parse()?)
//!         .detail("method", "password"),
//! )?;
//! client.flush().await?; // stored (or rejected) once this returns
//! client.shutdown(Duration::from_secs(10)).await?;
//! # let _ = event_id;
//! # Ok(())
//! # }
//! ```
//!
//! # Delivery
//! - **Idempotent retries.** Every event carries an `event_id`: the caller's, or a ULID the
//!   client assigns in `record()` (and returns). An event is encoded once, so every retry sends
//!   the very same content under the same id, and the service stores it exactly once (a
//!   re-send is answered `"duplicate": true`). Delivery is at least once; storage exactly once.
//! - **Batching.** Events go in requests of at most 100 events and 1 MiB (the API's limits); a
//!   batch that is not full leaves after the flush interval (1 s by default). A few requests
//!   (4) are in flight at once, so entries may be stored in another order than recorded.
//! - **Retries.** 5xx, 429 and 408, 401/403 (a signature refused, often for a moment), timeouts
//!   and connection errors are retried without end, with exponential backoff and jitter
//!   ([`RetryPolicy`]), and never sooner than a `Retry-After`. A 413 splits the batch.
//! - **Rejections.** A 400 or 409 rejects only the events it names (`events[3].ip`); the service
//!   stores nothing of such a request, and the client sends the other events again at once.
//!   Each rejected event goes to the rejection handler ([`ClientBuilder::on_rejected`]) with
//!   its fields and messages ([`Rejected`]); re-sending it unchanged would fail again.
//! - **Overflow.** At most [`ClientBuilder::buffer_capacity`] events wait to be stored; past
//!   that `record()` returns [`RecordError::Full`] at once with the event, and never blocks the
//!   caller (a login must not wait on the audit API). The caller chooses what to do with it.
//! - **Flush and shutdown.** [`Client::flush`] waits until everything recorded before it is
//!   stored or rejected; [`Client::shutdown`] sends what is held and returns any event still
//!   unconfirmed when its grace period ends. Events held when the process dies are lost: a
//!   producer that must not lose one keeps its own outbox, or sends through the queue.
//!
//! # Transports
//! The batching and retry logic talks to a [`Transport`]. [`ClientBuilder::endpoint`] chooses
//! [`HttpTransport`], the API. [`ClientBuilder::queue`] (feature `sqs`) chooses `SqsTransport`,
//! the service's ingest queue: each event one SQS message, sent with SendMessageBatch (10 at
//! most), `event_id` required there (the client always sets one). SQS validates nothing, so the
//! service's consumer does, later: an event it can never store goes to the queue's dead-letter
//! queue with the reason, not to the rejection handler, which on this path only sees what SQS
//! itself refuses. A batch SQS takes only in part is [`transport::SendError::Partial`]: the
//! rest is sent again after the backoff. Any other [`Transport`] is used through
//! [`ClientBuilder::build_with_transport`].
//!
//! # The event catalogue
//! [`EventType`] lists the types a producer may send. It is tied to the service's own
//! catalogue by the workspace test `client::event_types_match_the_service` (`tests/api/client.rs`
//! in the service's repository), which fails on any difference between the two.

mod backoff;
mod batch;
mod buffer;
mod client;
mod credentials;
mod delivery;
mod error;
mod event;
mod event_type;
mod signing;
mod stats;
pub mod transport;
mod worker;

pub use aws_credential_types::Credentials;
pub use backoff::RetryPolicy;
pub use client::{Client, ClientBuilder};
pub use error::{BuildError, Closed, RecordError, Rejected, RejectionHandler, ShutdownError};
pub use event::{Actor, Event, Location};
pub use event_type::EventType;
pub use signing::{RequestSigner, SERVICE, SigningError};
pub use stats::Stats;
#[cfg(feature = "sqs")]
pub use transport::SqsTransport;
pub use transport::{FieldError, HttpTransport, Transport};
