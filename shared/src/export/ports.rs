//! What the export worker needs from the outside, as narrow traits (ports): the job store, the
//! entries to export, the upload of the file, the account's log, and the time. Each is shaped by
//! what [`super::worker::ExportWorker`] calls and nothing more, and speaks only core types and
//! the storage faults of `crate::storage`; the real adapters (DynamoDB, S3, KMS) implement them
//! in `store::export_ports` by delegating to their own methods, the system clock here, and the
//! worker's unit tests implement them in memory.
//!
//! Every future is `Send`, so a worker built on the real adapters can run on any task.

use std::future::Future;
use std::ops::Range;

use jiff::Timestamp;

use crate::domain::export::{ExportId, ExportJob, UploadedPart};
use crate::domain::{AccountId, LogEntry, LogFilter};
use crate::integrity::note::NoteError;
use crate::storage::{BucketError, StoreError};

/// A job with the version it was read at.
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub account: AccountId,
    pub job: ExportJob,
    pub version: u64,
    /// Until when (epoch seconds) the worker that set it owns the job; 0 when none does.
    pub lease_until: i64,
}

/// The export jobs, read and replaced with optimistic concurrency.
pub trait JobStore {
    /// The account's job with the version it was read at, if it exists. Reads its own writes.
    fn get(
        &self,
        account: &AccountId,
        id: &ExportId,
    ) -> impl Future<Output = Result<Option<StoredJob>, StoreError>> + Send;

    /// Replaces the job with `job`, owned until `lease_until` (epoch seconds; 0: by nobody),
    /// if its version is still `stored.version`; the stored version becomes one higher.
    /// `Ok(false)` when somebody changed the job since `stored` was read, and nothing is written.
    fn save(
        &self,
        stored: &StoredJob,
        job: &ExportJob,
        lease_until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives up a finished job's place among the account's exports in flight (idempotent).
    fn release(
        &self,
        account: &AccountId,
        id: &ExportId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A page of entries read but not yet parsed, and where the next page starts: known before its
/// entries are parsed, so the worker asks for the next page while it parses and writes these.
pub struct UnparsedPage<R> {
    pub entries: Vec<R>,
    pub resume_after: Option<String>,
}

/// The log entries an export lists.
pub trait EntrySource {
    /// An entry as read, before it is parsed ([`Self::parse`]).
    type Unparsed: Send;

    /// Up to `limit` entries matching `filter`, newest first, strictly older than the sort key
    /// `after`; `resume_after` is set when more may follow. Entries expired at `now` are left out.
    fn page(
        &self,
        account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> impl Future<Output = Result<UnparsedPage<Self::Unparsed>, StoreError>> + Send;

    /// The entry `unparsed` holds (a corrupt one is an error).
    fn parse(&self, unparsed: Self::Unparsed) -> Result<LogEntry, StoreError>;

    /// The entry stored under `sort_key`, with its log index (read strongly consistent).
    fn entry(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> impl Future<Output = Result<Option<LogEntry>, StoreError>> + Send;
}

/// A multipart upload of the export file that later invocations can continue (S3's model).
pub trait ExportUpload {
    /// The smallest size of every part but the last.
    const MIN_PART_BYTES: usize;

    /// Starts an upload to `key` of a file that downloads as `filename`; returns its id.
    fn start(
        &self,
        key: &str,
        filename: &str,
    ) -> impl Future<Output = Result<String, BucketError>> + Send;

    /// Uploads part `part_number` (1-based; uploading a number again replaces that part) and
    /// returns its ETag.
    fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<String, BucketError>> + Send;

    /// Assembles the file from `parts`, in part-number order.
    fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> impl Future<Output = Result<(), BucketError>> + Send;

    /// Abandons the upload and frees its parts; an upload that is already gone counts as aborted.
    fn abort(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<(), BucketError>> + Send;
}

/// The account's tamper-evident log, as an export with evidence needs it.
pub trait ExportLog {
    /// The log index of the entry stored under `sort_key`, once the sequencer appended it.
    fn sequenced(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// A signed checkpoint note of the log's first `size` leaves (the log may hold more).
    fn seal(
        &self,
        account: &AccountId,
        size: u64,
    ) -> impl Future<Output = Result<String, SealError>> + Send;

    /// The retained leaf data texts of `range`, in index order (at most
    /// [`LEAF_DATA_AT_ONCE`]): kept for every index, also after its entry expired.
    fn leaf_data(
        &self,
        account: &AccountId,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// Leaf data read at once: about 1 MB, a few Query pages.
pub const LEAF_DATA_AT_ONCE: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the export's checkpoint failed: {0}")]
    Sign(#[from] NoteError),
}

/// The current time, for leases, deadlines and timestamps on the job.
pub trait Clock {
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
