//! One delivery run of one stream: take its lease, read the log from the first index not yet
//! delivered, send batches in index order, and store how far the destination acknowledged.
//!
//! Why it cannot lose or reorder an entry:
//! - the cursor (`delivered_through`) moves only after the destination acknowledged a batch, and
//!   only over an unbroken run of indices from it: an index the store does not show yet ends the
//!   batch, it is never skipped;
//! - one run at a time per stream (the lease), and every write of the run is conditional on
//!   holding it, so a replay or a delete in between wins and the old run stops;
//! - a run queued for new entries that finds the lease taken leaves its holder a note to read
//!   again, and the holder's release at the tip fails while the note is there: no entry waits
//!   for a run that went away (and none waits out a fixed re-check either);
//! - a failure stores nothing but the failure: the next run starts from the same cursor, so the
//!   destination may see a batch again (at least once; each record carries its `log_index`
//!   and the delivery its id, to drop repeats), never a gap.
//!
//! Each batch carries a signed checkpoint whose tree holds all its records, so the receiver can
//! check them against the log.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use serde_json::value::RawValue;

use super::delivery::{envelope_bytes, records_that_fit};
use super::outcome::SendError;
use super::ports::{
    Batch, CheckpointError, Destination, Lease, LeasedStream, Release, Released, StreamLeases,
    StreamLog,
};
use super::record::RecordError;
use crate::domain::stream::{DeliveryState, Failing, StreamFormat, StreamId};
use crate::domain::{AccountId, LogEntry};
use crate::storage::StoreError;

/// Entries read from the log at once: a few batches, one Query page.
pub const READ_AT_ONCE: usize = 500;
/// How long a run may hold the lease: a run stops sending well before, at its deadline.
pub const LEASE: Duration = Duration::from_secs(120);
/// How many times a run that finds the lease taken asks its holder to read again, and tries to
/// take a lease let go meanwhile, before it queues a later look instead.
const BUSY_ATTEMPTS: u32 = 3;
/// That later look.
const BUSY_RECHECK: SignedDuration = SignedDuration::from_secs(2);
/// How many times, and how far apart, a run looks again for a missing next index.
const HEAD_GAP_LOOKS: u32 = 3;
const HEAD_GAP_PAUSE: Duration = Duration::from_millis(500);
/// The longest wait between two attempts of a failing stream.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

/// How a run ended: what the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Everything in the log was delivered.
    CaughtUp { delivered: u64 },
    /// The deadline came first: run again now.
    More { delivered: u64 },
    /// Run again at this time (a failing stream's next attempt, another run's lease, an index
    /// the store does not show yet).
    RetryAt(Timestamp),
    /// Nothing to do until a replay, or ever (a stopped or deleted stream, or a lease lost to a
    /// replay or delete, which start their own run).
    Done,
}

/// Renders one entry as one record of the stream's format ([`super::record::render`]; tests
/// give records of chosen sizes).
pub type Render = fn(&LogEntry, StreamFormat) -> Result<Box<RawValue>, RecordError>;

/// Told of each batch a destination acknowledged: its newest entry and when (the delivery lag
/// metric).
pub type Acknowledged<'a> = &'a (dyn Fn(&LogEntry, Timestamp) + Sync);

pub struct DeliveryRun<'a, S, L, D> {
    pub streams: &'a S,
    pub log: &'a L,
    pub destination: &'a D,
    pub render: Render,
    pub acknowledged: Acknowledged<'a>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl<S, L, D> DeliveryRun<'_, S, L, D>
where
    S: StreamLeases + Sync,
    S::Target: Send + Sync,
    L: StreamLog + Sync,
    D: Destination<S::Target> + Sync,
{
    /// Delivers what the stream has not had yet, until caught up, a failure, or `deadline`.
    /// `random` feeds the retry jitter.
    pub async fn run(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: impl Fn() -> Timestamp,
        deadline: Timestamp,
        random: impl Fn() -> u64,
    ) -> Result<Ran, RunError> {
        let start = now();
        let until = start
            .checked_add(SignedDuration::try_from(LEASE).unwrap_or(SignedDuration::MAX))
            .unwrap_or(start);
        let mut stream = match self.take_lease(account, id, start, until).await? {
            Ok(stream) => stream,
            Err(ran) => return Ok(ran),
        };
        let mut delivered = 0u64;
        let mut head_gap_looks = 0;
        loop {
            if now() >= deadline {
                return self.release(&stream, Ran::More { delivered }).await;
            }
            let from = stream.state.next_index();
            let entries = self.log.entries(account, from, READ_AT_ONCE).await?;
            let unbroken = unbroken_from(&entries, from);
            if entries.is_empty() {
                match self.caught_up(&stream, delivered).await? {
                    Some(ran) => return Ok(ran),
                    None => continue,
                }
            }
            if unbroken == 0 {
                // The next index is missing while later ones show. An index of the GSI lags its
                // table by a moment: look again shortly, never skip it. One still missing after
                // that is gone from the events table (expired, past RETENTION_DAYS): the stream
                // says so and backs off like a failing destination, instead of asking again
                // every second.
                if head_gap_looks < HEAD_GAP_LOOKS {
                    head_gap_looks += 1;
                    tokio::time::sleep(HEAD_GAP_PAUSE).await;
                    continue;
                }
                let missing = SendError::retry(format!(
                    "entry #{from} of the log is not readable (expired from the events table?); \
                     the entries after it wait"
                ));
                return self.failed(&stream, missing, now(), &random).await;
            }
            head_gap_looks = 0;
            let short = entries.len() < READ_AT_ONCE;
            let gap = unbroken < entries.len();
            let entries = &entries[..unbroken];
            let size = from + unbroken as u64;
            let checkpoint = match self.log.checkpoint(account, size).await {
                Ok(note) => note,
                Err(CheckpointError::Store(err)) => return Err(err.into()),
                Err(err @ CheckpointError::Sign(_)) => {
                    // The service's own fault: retried like a failing destination, and said so.
                    let failed = SendError::retry(err.to_string());
                    return self.failed(&stream, failed, now(), &random).await;
                }
            };
            let records = entries
                .iter()
                .map(|entry| (self.render)(entry, stream.format))
                .collect::<Result<Vec<_>, _>>()?;
            let records: Vec<&RawValue> = records.iter().map(AsRef::as_ref).collect();
            // The envelope of the longest delivery id: every batch's body then fits.
            let envelope = envelope_bytes(
                stream.id.as_str(),
                &delivery_id(&stream.id, u64::MAX, u64::MAX),
                stream.format,
                &checkpoint,
            )
            .map_err(|source| RecordError::Json {
                id: stream.id.to_string(),
                source,
            })?;
            let mut sent = 0;
            while sent < records.len() {
                let count = records_that_fit(&records[sent..], envelope);
                let (first_index, last_index) =
                    (from + sent as u64, from + (sent + count) as u64 - 1);
                let newest = &entries[sent + count - 1];
                let batch = Batch {
                    id: delivery_id(&stream.id, first_index, last_index),
                    format: stream.format,
                    records: &records[sent..sent + count],
                    first_index,
                    last_index,
                    checkpoint: &checkpoint,
                };
                if let Err(failed) = self.destination.send(&stream, &batch).await {
                    return self.failed(&stream, failed, now(), &random).await;
                }
                (self.acknowledged)(newest, now());
                // Stored once per read (below), at a failure, or at the lease's release: a
                // crash in between repeats these batches, never skips one.
                stream.state = DeliveryState {
                    delivered_through: Some(last_index),
                    last_delivery_at: Some(now()),
                    failing: None,
                };
                delivered += count as u64;
                sent += count;
                if now() >= deadline {
                    return self.release(&stream, Ran::More { delivered }).await;
                }
            }
            if gap {
                let ran = Ran::RetryAt(now() + SignedDuration::from_secs(1));
                return self.release(&stream, ran).await;
            }
            // A short read was the log's tip: what was appended since queued runs of its own,
            // which found the lease taken and asked this run to read again (`caught_up`). A
            // full one: store the cursor before the next read.
            if short {
                match self.caught_up(&stream, delivered).await? {
                    Some(ran) => return Ok(ran),
                    None => continue,
                }
            } else if !self.streams.save(&stream, &stream.state).await? {
                return Ok(Ran::Done);
            }
        }
    }

    /// The lease, or what to do without it: when another run holds it, that run is asked to
    /// read again (it has not let go yet, so it will see what this run was queued for); when
    /// it lets go meanwhile, this run takes the lease itself.
    async fn take_lease(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Result<LeasedStream<S::Target>, Ran>, RunError> {
        for _ in 0..BUSY_ATTEMPTS {
            match self.streams.lease(account, id, now, until).await? {
                Lease::Held(stream) => return Ok(Ok(stream)),
                Lease::Busy => {
                    if self.streams.ask_to_read_again(account, id, now).await? {
                        return Ok(Err(Ran::Done));
                    }
                }
                Lease::NotDue(at) => return Ok(Err(Ran::RetryAt(at))),
                Lease::Stopped | Lease::Gone => return Ok(Err(Ran::Done)),
            }
        }
        // The lease keeps changing hands: look again shortly.
        Ok(Err(Ran::RetryAt(now + BUSY_RECHECK)))
    }

    /// At the log's tip: gives the lease up (`Some`), unless another run asked for a read
    /// again (`None`: read again, still holding it).
    async fn caught_up(
        &self,
        stream: &LeasedStream<S::Target>,
        delivered: u64,
    ) -> Result<Option<Ran>, RunError> {
        match self
            .streams
            .release(stream, &stream.state, Release::UnlessAsked)
            .await?
        {
            Released::Released => Ok(Some(Ran::CaughtUp { delivered })),
            Released::AskedToReadAgain => Ok(None),
            Released::Lost => Ok(Some(Ran::Done)),
        }
    }

    /// Gives the lease up whatever the notes (a run is scheduled anyway); `ran` unless the
    /// lease was lost meanwhile.
    async fn release(&self, stream: &LeasedStream<S::Target>, ran: Ran) -> Result<Ran, RunError> {
        match self
            .streams
            .release(stream, &stream.state, Release::Anyway)
            .await?
        {
            Released::Lost => Ok(Ran::Done),
            Released::Released | Released::AskedToReadAgain => Ok(ran),
        }
    }

    /// Stores the failure (the cursor stays) and when to try again, if ever.
    async fn failed(
        &self,
        stream: &LeasedStream<S::Target>,
        failed: SendError,
        now: Timestamp,
        random: &impl Fn() -> u64,
    ) -> Result<Ran, RunError> {
        let previous = stream.state.failing.as_ref();
        let attempts = previous.map_or(0, |failing| failing.attempts) + 1;
        let since = previous.map_or(now, |failing| failing.since);
        let (last_error, retry_at) = match failed {
            SendError::Retry {
                reason,
                retry_after,
            } => {
                let delay = retry_delay(attempts, random()).max(retry_after.unwrap_or_default());
                let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
                (reason, Some(now.checked_add(delay).unwrap_or(now)))
            }
            SendError::Stop { reason } => (reason, None),
        };
        let state = DeliveryState {
            failing: Some(Failing {
                since,
                last_error,
                attempts,
                retry_at,
            }),
            ..stream.state.clone()
        };
        if self
            .streams
            .release(stream, &state, Release::Anyway)
            .await?
            == Released::Lost
        {
            return Ok(Ran::Done);
        }
        Ok(retry_at.map_or(Ran::Done, Ran::RetryAt))
    }
}

/// Exponential backoff with jitter: about 1 s doubled per failed attempt, at most
/// [`MAX_RETRY_DELAY`], drawn from its upper half so attempts of many streams spread out
/// without ever coming sooner than half the step.
pub fn retry_delay(attempts: u32, random: u64) -> Duration {
    let step = Duration::from_secs(1u64 << attempts.saturating_sub(1).min(20)).min(MAX_RETRY_DELAY);
    let half = step.as_millis() as u64 / 2;
    Duration::from_millis(half + random % (half + 1))
}

/// The delivery id of a batch: the same for every attempt of the same indices.
fn delivery_id(stream: &StreamId, first: u64, last: u64) -> String {
    format!("{stream}-{first}-{last}")
}

/// How many of `entries` carry the indices `from`, `from + 1`, ... without a break.
fn unbroken_from(entries: &[LogEntry], from: u64) -> usize {
    entries
        .iter()
        .zip(from..)
        .take_while(|(entry, index)| entry.log_index == Some(*index))
        .count()
}

#[cfg(test)]
mod tests;
