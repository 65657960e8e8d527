//! What a delivery run needs from the world: the stream's stored state under a lease, the
//! account's log, and the destination. Narrow on purpose: the run's logic is unit-tested over
//! in-memory fakes of these, the adapters against the local stack.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::value::RawValue;

use crate::domain::stream::{DeliveryState, StreamFormat, StreamId};
use crate::domain::{AccountId, LogEntry};
use crate::storage::StoreError;
use crate::streams::outcome::SendError;

/// A stream a run holds the lease of: only the holder writes its state, and only while the lease
/// is its own (a replay or a delete takes it away).
#[derive(Debug, Clone)]
pub struct LeasedStream<T> {
    pub account: AccountId,
    pub id: StreamId,
    pub format: StreamFormat,
    /// Where the records go; the destination adapter reads it, the run does not.
    pub target: T,
    pub state: DeliveryState,
    /// The lease's token: every write of the run is conditional on it.
    pub lease: String,
}

/// What asking for a stream's lease found.
#[derive(Debug)]
pub enum Lease<T> {
    Held(LeasedStream<T>),
    /// Another run holds it: ask it to read the log again before it lets go
    /// ([`StreamLeases::ask_to_read_again`]).
    Busy,
    /// The stream is failing and its next attempt is due then.
    NotDue(Timestamp),
    /// The destination refused a delivery as wrong: nothing is sent until a replay.
    Stopped,
    /// No such stream (deleted).
    Gone,
}

/// The streams' stored state.
pub trait StreamLeases {
    type Target: Send + Sync;

    /// Takes the stream's lease until `until`, if no other run holds it and the stream is due.
    fn lease(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Lease<Self::Target>, StoreError>> + Send;

    /// Leaves a note for the run holding the lease: read the log once more before letting go
    /// (entries were appended that it may not have seen). False when no run holds it any more:
    /// the caller may take it itself.
    fn ask_to_read_again(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `state` as the stream's and keeps the lease, if the run still holds it (false when
    /// it lost it: a replay or a delete came in between).
    fn save(
        &self,
        stream: &LeasedStream<Self::Target>,
        state: &DeliveryState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `state` and gives the lease up. With [`Release::UnlessAsked`], a note left by
    /// [`StreamLeases::ask_to_read_again`] keeps the lease instead (the note is cleared): the
    /// run reads again, so no entry waits for a run that found the lease taken.
    fn release(
        &self,
        stream: &LeasedStream<Self::Target>,
        state: &DeliveryState,
        how: Release,
    ) -> impl Future<Output = Result<Released, StoreError>> + Send;
}

/// How a run gives its lease up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Caught up: keep the lease if another run asked for a read again.
    UnlessAsked,
    /// A run is scheduled anyway (more to do, a retry): let go whatever the notes.
    Anyway,
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    Released,
    /// Another run asked for a read again: the lease is still held, the state stored.
    AskedToReadAgain,
    /// The lease was lost meanwhile (a replay or a delete): nothing stored.
    Lost,
}

/// The account's log, as a stream reads it.
pub trait StreamLog {
    /// The account's entries with `log_index` from `from`, in index order, at most `limit`. It
    /// may stop short or skip an index the store does not show yet: the run delivers only the
    /// unbroken run of indices from `from`.
    fn entries(
        &self,
        account: &AccountId,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<LogEntry>, StoreError>> + Send;

    /// A signed checkpoint note of a tree of at least `size` leaves: the latest stored one when
    /// it is that large, else one signed now for exactly `size`.
    fn checkpoint(
        &self,
        account: &AccountId,
        size: u64,
    ) -> impl Future<Output = Result<String, CheckpointError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing a checkpoint failed: {0}")]
    Sign(String),
}

/// One delivery: a batch of rendered records (each a JSON text) and a checkpoint covering them.
#[derive(Debug)]
pub struct Batch<'a> {
    /// The same for every attempt of the same batch, so a receiver can drop a repeat.
    pub id: String,
    pub format: StreamFormat,
    pub records: &'a [&'a RawValue],
    /// Log index of the first and last record.
    pub first_index: u64,
    pub last_index: u64,
    pub checkpoint: &'a str,
}

/// A stream's destination: `Ok` when it acknowledged the batch; otherwise whether to retry
/// (408, 429, 5xx, a timeout, a refused connection) or stop until a replay (any other refusal),
/// as [`super::outcome`] decides for webhooks.
pub trait Destination<T> {
    fn send(
        &self,
        stream: &LeasedStream<T>,
        batch: &Batch<'_>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A stream run to start, now or after `delay` (a failing stream's backoff, a busy lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    pub account: AccountId,
    pub stream: StreamId,
    pub delay: Duration,
}

/// The queue of stream runs: each stream's runs are their own messages, so a slow or failing
/// destination holds up only its own.
pub trait DeliveryQueue {
    fn enqueue(&self, runs: &[ScheduledRun])
    -> impl Future<Output = Result<(), QueueError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("the delivery queue refused {refused} of the runs: {reason}")]
pub struct QueueError {
    pub refused: usize,
    pub reason: String,
}

/// Which streams accounts have, in one read for many accounts (the fan-out sees a batch of
/// grown logs at once). A stopped stream may be among them: its run ends at the lease.
pub trait StreamDirectory {
    /// The streams of each of `accounts` (at most [`crate::storage::TRANSACTION_MAX`]) that
    /// has any; accounts with none are left out.
    fn streams_of(
        &self,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<HashMap<AccountId, Vec<StreamId>>, StoreError>> + Send;
}
