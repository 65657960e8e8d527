//! The claim / lease / checkpoint / resume state machine against in-memory ports: a job store
//! with the DynamoDB adapter's conditional-version semantics, an upload with S3's multipart
//! rules, entries from a `Vec`, and a fixed clock per invocation (as each Lambda invocation
//! reads its own clock; no test depends on the wall clock). Each file below holds one behaviour's
//! tests over this harness.

mod evidence;
mod failures;
mod lease;
mod resume;
mod rows;

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::Notify;

use super::*;
use crate::csv::{CsvEncoder, CsvStart};
use crate::domain::export::{ExportFilters, ExportResult, UploadedPart};
use crate::domain::{Actor, EntryId, EventType, LogEntry, LogFilter};
use crate::export::ports::SealError;
use crate::export::ports::UnparsedPage;
use crate::storage::BucketError;

// ---- the job store ----------------------------------------------------------------------

#[derive(Default)]
struct JobsState {
    jobs: HashMap<(String, String), StoredJob>,
    /// Every save that was written, in order: the status and lease it wrote.
    writes: Vec<(ExportStatus, i64)>,
    /// The next save of a job in this status fails as an unreachable DynamoDB would.
    fail_next_save_of: Option<ExportStatus>,
    /// `get` yields to other tasks after reading, so concurrent deliveries interleave there.
    yield_on_get: bool,
    /// Jobs whose place in flight was given up, in order.
    released: Vec<String>,
}

/// The export jobs table in memory, with [`ExportStore`]'s semantics: `save` writes only if
/// the stored version is still the one read, and bumps it.
#[derive(Clone, Default)]
struct MemoryJobs(Arc<Mutex<JobsState>>);

fn job_key(account: &AccountId, id: &ExportId) -> (String, String) {
    (account.as_str().to_owned(), id.as_str().to_owned())
}

impl MemoryJobs {
    /// A new job as `ExportStore::create` writes it: version 1, owned by nobody.
    fn insert(&self, account: &AccountId, job: &ExportJob) {
        let stored = StoredJob {
            account: account.clone(),
            job: job.clone(),
            version: 1,
            lease_until: 0,
        };
        let previous = self
            .0
            .lock()
            .unwrap()
            .jobs
            .insert(job_key(account, &job.id), stored);
        assert!(previous.is_none(), "job ids are unique");
    }

    fn current(&self, account: &AccountId, id: &ExportId) -> StoredJob {
        self.0.lock().unwrap().jobs[&job_key(account, id)].clone()
    }

    fn writes(&self) -> Vec<(ExportStatus, i64)> {
        self.0.lock().unwrap().writes.clone()
    }

    fn fail_next_save_of(&self, status: ExportStatus) {
        self.0.lock().unwrap().fail_next_save_of = Some(status);
    }

    fn yield_on_get(&self) {
        self.0.lock().unwrap().yield_on_get = true;
    }
}

impl JobStore for MemoryJobs {
    async fn release(&self, _account: &AccountId, id: &ExportId) -> Result<(), StoreError> {
        self.0.lock().unwrap().released.push(id.as_str().to_owned());
        Ok(())
    }

    async fn get(
        &self,
        account: &AccountId,
        id: &ExportId,
    ) -> Result<Option<StoredJob>, StoreError> {
        let (read, yield_after) = {
            let state = self.0.lock().unwrap();
            (
                state.jobs.get(&job_key(account, id)).cloned(),
                state.yield_on_get,
            )
        };
        if yield_after {
            tokio::task::yield_now().await;
        }
        Ok(read)
    }

    async fn save(
        &self,
        stored: &StoredJob,
        job: &ExportJob,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.0.lock().unwrap();
        if state.fail_next_save_of == Some(job.status) {
            state.fail_next_save_of = None;
            return Err(StoreError::Dynamo("injected: DynamoDB unreachable".into()));
        }
        // `#version = :read`: false for a changed job, and for a missing one.
        match state.jobs.get_mut(&job_key(&stored.account, &job.id)) {
            Some(current) if current.version == stored.version => {
                *current = StoredJob {
                    account: stored.account.clone(),
                    job: job.clone(),
                    version: stored.version + 1,
                    lease_until,
                };
            }
            _ => return Ok(false),
        }
        state.writes.push((job.status, lease_until));
        Ok(true)
    }
}

// ---- the entries ------------------------------------------------------------------------

#[derive(Default)]
struct EntriesState {
    /// Newest first, as the events table's sort key orders them.
    entries: Vec<LogEntry>,
    pages_read: usize,
    /// The read of this page (1-based, counted over the whole test) fails.
    fail_page: Option<usize>,
    /// That read fails as an unreachable DynamoDB (transient), not as a refused Query.
    fail_transient: bool,
    /// Every page read (`Read`) and entry parsed (`Parsed`), in order.
    calls: Vec<EntryCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryCall {
    Read,
    Parsed,
}

/// The events table of one account over a `Vec`, with [`EventStore::page`]'s contract:
/// filters applied, strictly after `after`, `resume_after` only when more follow.
#[derive(Clone, Default)]
struct MemoryEntries(Arc<Mutex<EntriesState>>);

impl MemoryEntries {
    fn new(mut entries: Vec<LogEntry>) -> Self {
        entries.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
        Self(Arc::new(Mutex::new(EntriesState {
            entries,
            ..EntriesState::default()
        })))
    }

    fn calls(&self) -> Vec<EntryCall> {
        self.0.lock().unwrap().calls.clone()
    }

    fn pages_read(&self) -> usize {
        self.0.lock().unwrap().pages_read
    }

    fn fail_page(&self, page: usize) {
        self.0.lock().unwrap().fail_page = Some(page);
    }

    fn fail_page_unavailable(&self, page: usize) {
        let mut state = self.0.lock().unwrap();
        state.fail_page = Some(page);
        state.fail_transient = true;
    }
}

impl EntrySource for MemoryEntries {
    type Unparsed = LogEntry;

    fn parse(&self, unparsed: LogEntry) -> Result<LogEntry, StoreError> {
        self.0.lock().unwrap().calls.push(EntryCall::Parsed);
        Ok(unparsed)
    }

    async fn page(
        &self,
        _account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        _now: Timestamp,
    ) -> Result<UnparsedPage<LogEntry>, StoreError> {
        let mut state = self.0.lock().unwrap();
        state.pages_read += 1;
        state.calls.push(EntryCall::Read);
        if state.fail_page == Some(state.pages_read) {
            return Err(match state.fail_transient {
                true => StoreError::Unavailable("injected: no answer in time".into()),
                false => StoreError::Dynamo("injected: Query failed".into()),
            });
        }
        let mut in_range = state.entries.iter().filter(|e| {
            filter.from.is_none_or(|from| e.occurred_at >= from)
                && filter.to.is_none_or(|to| e.occurred_at <= to)
                && (filter.types.is_empty() || filter.types.contains(&e.event_type))
                && after.is_none_or(|after| e.sort_key().as_str() < after)
        });
        // Like a Query with a FilterExpression: `limit` items read, the actor filter
        // applied to them, so a thin filter gives short pages that resume where they read to.
        let read: Vec<&LogEntry> = in_range.by_ref().take(limit).collect();
        let resume_after = if in_range.next().is_some() {
            read.last().map(|e| e.sort_key())
        } else {
            None
        };
        let entries: Vec<LogEntry> = read
            .into_iter()
            .filter(|e| {
                filter
                    .actor
                    .as_ref()
                    .is_none_or(|actor| *actor == e.actor.id)
            })
            .cloned()
            .collect();
        Ok(UnparsedPage {
            entries,
            resume_after,
        })
    }

    async fn entry(
        &self,
        _account: &AccountId,
        sort_key: &str,
    ) -> Result<Option<LogEntry>, StoreError> {
        let state = self.0.lock().unwrap();
        Ok(state
            .entries
            .iter()
            .find(|e| e.sort_key() == sort_key)
            .cloned())
    }
}

// ---- the upload -------------------------------------------------------------------------

/// The in-memory upload's minimum part: small, so a few rows make a part.
const MIN_PART: usize = 64;

#[derive(Debug, Clone, PartialEq)]
struct OpenUpload {
    key: String,
    filename: String,
    /// Part number to ETag and bytes; uploading a number again replaces the part.
    parts: BTreeMap<i32, (String, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq)]
struct StoredFile {
    upload_id: String,
    filename: String,
    bytes: Vec<u8>,
    part_sizes: Vec<usize>,
}

#[derive(Default)]
struct UploadState {
    started: usize,
    open: BTreeMap<String, OpenUpload>,
    /// Every part upload that arrived, in order: upload id and part number.
    part_log: Vec<(String, i32)>,
    aborted: Vec<String>,
    /// Completed files by key.
    files: BTreeMap<String, StoredFile>,
    /// The next upload of this part number fails as an unreachable bucket would.
    fail_part: Option<i32>,
    /// The next upload of this part number waits until notified (a slow or dying worker).
    hold_part: Option<(i32, Arc<Notify>)>,
}

/// A bucket in memory with S3's multipart rules: parts are numbered, a number uploaded again
/// replaces its part, completion takes the parts in ascending order with their latest ETags,
/// every part but the last is at least [`MIN_PART`], and a completed or aborted upload is gone.
#[derive(Clone, Default)]
struct MemoryUpload(Arc<Mutex<UploadState>>);

impl MemoryUpload {
    fn state(&self) -> std::sync::MutexGuard<'_, UploadState> {
        self.0.lock().unwrap()
    }

    fn fail_part(&self, part_number: i32) {
        self.state().fail_part = Some(part_number);
    }

    /// The next upload of `part_number` waits for the returned [`Notify`].
    fn hold_part(&self, part_number: i32) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.state().hold_part = Some((part_number, gate.clone()));
        gate
    }

    /// How often each part number of `upload_id` was uploaded.
    fn uploads_per_part(&self, upload_id: &str) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for (_, number) in self.state().part_log.iter().filter(|(u, _)| u == upload_id) {
            *counts.entry(*number).or_default() += 1;
        }
        counts
    }
}

fn no_such_upload(operation: &str, upload_id: &str) -> BucketError {
    BucketError::UploadGone(format!("{operation}: NoSuchUpload {upload_id}"))
}

impl ExportUpload for MemoryUpload {
    const MIN_PART_BYTES: usize = MIN_PART;

    async fn start(&self, key: &str, filename: &str) -> Result<String, BucketError> {
        let mut state = self.state();
        state.started += 1;
        let upload_id = format!("upload-{}", state.started);
        state.open.insert(
            upload_id.clone(),
            OpenUpload {
                key: key.to_owned(),
                filename: filename.to_owned(),
                parts: BTreeMap::new(),
            },
        );
        Ok(upload_id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        bytes: Vec<u8>,
    ) -> Result<String, BucketError> {
        let hold = {
            let mut state = self.state();
            match state.hold_part.take() {
                Some((number, gate)) if number == part_number => Some(gate),
                other => {
                    state.hold_part = other;
                    None
                }
            }
        };
        if let Some(gate) = hold {
            gate.notified().await;
        }
        let mut guard = self.state();
        let state = &mut *guard;
        if state.fail_part == Some(part_number) {
            state.fail_part = None;
            return Err(BucketError::Unreachable(
                "injected: UploadPart: connection refused".into(),
            ));
        }
        let upload = state
            .open
            .get_mut(upload_id)
            .filter(|u| u.key == key)
            .ok_or_else(|| no_such_upload("UploadPart", upload_id))?;
        state.part_log.push((upload_id.to_owned(), part_number));
        let etag = format!("\"{upload_id}-{part_number}-{}\"", state.part_log.len());
        upload.parts.insert(part_number, (etag.clone(), bytes));
        Ok(etag)
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BucketError> {
        let mut state = self.state();
        let upload = state
            .open
            .get(upload_id)
            .filter(|u| u.key == key)
            .ok_or_else(|| no_such_upload("CompleteMultipartUpload", upload_id))?;
        let rejected = |code: &str| BucketError::Rejected {
            code: code.to_owned(),
            detail: format!("CompleteMultipartUpload {upload_id}"),
        };
        if parts.is_empty() {
            return Err(rejected("MalformedXML"));
        }
        let mut bytes = Vec::new();
        let mut part_sizes = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && parts[i - 1].part_number >= part.part_number {
                return Err(rejected("InvalidPartOrder"));
            }
            let Some((etag, data)) = upload.parts.get(&part.part_number) else {
                return Err(rejected("InvalidPart"));
            };
            if *etag != part.etag {
                return Err(rejected("InvalidPart"));
            }
            if i + 1 < parts.len() && data.len() < MIN_PART {
                return Err(BucketError::PartTooSmall(format!(
                    "part {}",
                    part.part_number
                )));
            }
            bytes.extend_from_slice(data);
            part_sizes.push(data.len());
        }
        let upload = state.open.remove(upload_id).expect("checked above");
        state.files.insert(
            key.to_owned(),
            StoredFile {
                upload_id: upload_id.to_owned(),
                filename: upload.filename,
                bytes,
                part_sizes,
            },
        );
        Ok(())
    }

    async fn abort(&self, _key: &str, upload_id: &str) -> Result<(), BucketError> {
        let mut state = self.state();
        state.open.remove(upload_id);
        state.aborted.push(upload_id.to_owned());
        Ok(())
    }
}

// ---- the clock --------------------------------------------------------------------------

/// The time an invocation runs at.
#[derive(Clone, Copy)]
struct FixedClock(Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

// ---- fixtures ---------------------------------------------------------------------------

type TestWorker = ExportWorker<MemoryJobs, MemoryEntries, MemoryUpload, MemoryLog, FixedClock>;

/// Entries before the request: what every export of the fixture lists.
const ROWS: u64 = 25;
/// A whole Lambda invocation, far more than the reserve: no checkpoint.
const WHOLE: SignedDuration = SignedDuration::from_mins(15);
/// Less than the reserve: the invocation checkpoints after its first part.
const SHORT: SignedDuration = SignedDuration::from_secs(30);

/// When the export was requested.
fn requested() -> Timestamp {
    "2024-04-22T06:00:00Z".parse().unwrap()
}

/// When the first invocation runs.
fn t0() -> Timestamp {
    requested() + SignedDuration::from_secs(2)
}

/// Parts of at least 300 bytes (two or three rows), pages of 3 entries, a 60 s reserve.
fn settings() -> WorkerSettings {
    WorkerSettings {
        reserve: Duration::from_secs(60),
        part_bytes: 300,
        page_size: 3,
        seal_wait: Duration::from_millis(400),
    }
}

fn entry(n: usize, occurred_at: Timestamp, event_type: EventType) -> LogEntry {
    LogEntry {
        id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P{n:08}")),
        event_type,
        occurred_at,
        actor: Actor {
            id: format!("u_{n}"),
            name: Some("Alice Merchant".into()),
            email: Some("alice@example.com".into()),
        },
        ip: Some("203.0.113.45".parse().unwrap()),
        user_agent: Some("Mozilla/5.0".into()),
        device: Some("Safari on macOS".into()),
        location: None,
        details: json!({"n": n}).into(),
        // Rows of different lengths, some with a formula trigger.
        summary: format!("{}Signed in #{n}", "=".repeat(n % 4)),
        event_id: None,
        received_at: occurred_at + SignedDuration::from_secs(1),
        producer: None,
        unfamiliar: None,
        log_index: None,
    }
}

// ---- the log -----------------------------------------------------------------------------

/// The account's log in memory: each entry's index (by sort key), the retained leaf data,
/// and a local key that signs checkpoints.
#[derive(Clone)]
struct MemoryLog {
    indices: Arc<Mutex<HashMap<String, u64>>>,
    leaves: Vec<String>,
    /// The next seal fails as an unreachable log table would.
    seal_unavailable: Arc<std::sync::atomic::AtomicBool>,
}

fn log_signer() -> crate::integrity::note::LocalSigner {
    crate::integrity::note::LocalSigner::from_seed(&[4; 32])
}

impl ExportLog for MemoryLog {
    async fn sequenced(
        &self,
        _account: &AccountId,
        sort_key: &str,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.indices.lock().unwrap().get(sort_key).copied())
    }

    async fn seal(&self, account: &AccountId, size: u64) -> Result<String, SealError> {
        if self
            .seal_unavailable
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return Err(StoreError::Unavailable("injected: no answer in time".into()).into());
        }
        let checkpoint = crate::integrity::note::Checkpoint {
            origin: crate::integrity::note::origin(account),
            size,
            root: crate::integrity::merkle::root(
                &self.leaves[..size as usize]
                    .iter()
                    .map(|text| crate::integrity::merkle::leaf_hash(text.as_bytes()))
                    .collect::<Vec<_>>(),
            ),
        };
        Ok(crate::integrity::note::sign_checkpoint(&checkpoint, &log_signer()).await?)
    }

    async fn leaf_data(
        &self,
        _account: &AccountId,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self.leaves[range.start as usize..range.end as usize].to_vec())
    }
}

struct Harness {
    account: AccountId,
    jobs: MemoryJobs,
    entries: MemoryEntries,
    upload: MemoryUpload,
    log: MemoryLog,
    /// The filters of every job the harness creates, as its export's entry records them.
    filters: ExportFilters,
}

/// The retention the export's entry records: every fixture entry is within reach.
const RETENTION_DAYS: u32 = 365;

impl Harness {
    /// Exports of everything, with `Timestamp` in Manila time.
    fn new() -> Self {
        Self::with_filters(|_| {})
    }

    /// [`ROWS`] entries before the request (two per minute, so sort keys tie on time and
    /// differ by id), the export's own `security_logs.exported` entry at the request (its
    /// request: the filters, changed by `change`), and an entry that arrives while the
    /// export runs.
    fn with_filters(change: impl FnOnce(&mut ExportFilters)) -> Self {
        let mut filters = ExportFilters {
            filter: LogFilter::default(),
            tz: crate::domain::ViewerZone::parse("Asia/Manila").unwrap(),
        };
        change(&mut filters);
        let mut entries: Vec<LogEntry> = (0..ROWS as usize)
            .map(|n| {
                let minutes = (n / 2 + 1) as i64;
                entry(
                    n,
                    requested() - SignedDuration::from_mins(minutes),
                    EventType::Login,
                )
            })
            .collect();
        let request = ExportJob::new(filters.clone(), "u_admin".into(), requested());
        entries.push(LogEntry {
            details: crate::domain::export::ExportRequest::details(&request, RETENTION_DAYS).into(),
            producer: Some(crate::domain::entry::SERVICE_PRODUCER.to_owned()),
            ..entry(ROWS as usize, requested(), EventType::SecurityLogsExported)
        });
        entries.push(entry(
            ROWS as usize + 1,
            requested() + SignedDuration::from_secs(1),
            EventType::Login,
        ));
        // The log holds every entry, in the order of their numbers (not of their times).
        for (n, entry) in entries.iter_mut().enumerate() {
            entry.log_index = Some(n as u64);
        }
        let log = MemoryLog {
            seal_unavailable: Arc::default(),
            indices: Arc::new(Mutex::new(
                entries
                    .iter()
                    .map(|e| (e.sort_key(), e.log_index.unwrap()))
                    .collect(),
            )),
            leaves: entries
                .iter()
                .map(|e| {
                    String::from_utf8(
                        crate::integrity::canonical::LeafData::of(e)
                            .unwrap()
                            .to_bytes(),
                    )
                    .unwrap()
                })
                .collect(),
        };
        Self {
            account: AccountId::parse("acct_1").unwrap(),
            jobs: MemoryJobs::default(),
            entries: MemoryEntries::new(entries),
            upload: MemoryUpload::default(),
            log,
            filters,
        }
    }

    /// An invocation at `now`, on the same storage and bucket as every other.
    fn worker(&self, now: Timestamp) -> TestWorker {
        ExportWorker {
            jobs: self.jobs.clone(),
            events: self.entries.clone(),
            bucket: self.upload.clone(),
            log: self.log.clone(),
            settings: settings(),
            clock: FixedClock(now),
        }
    }

    /// A new `pending` export of everything, `Timestamp` in Manila time.
    fn pending_job(&self) -> ExportId {
        let job = ExportJob {
            id: ExportId::generate(),
            status: ExportStatus::Pending,
            created_at: requested(),
            updated_at: requested(),
            completed_at: None,
            filters: self.filters.clone(),
            requested_by: "u_admin".into(),
            checkpoint: None,
            result: None,
            error: None,
            invocations: 0,
            audit_key: None,
            log: None,
            retention_days: None,
            phase: ExportPhase::Rows,
        };
        self.jobs.insert(&self.account, &job);
        job.id
    }

    /// A new `pending` export as the API creates it: with its audit entry, so with evidence.
    fn pending_job_with_evidence(&self) -> ExportId {
        let id = self.pending_job();
        let audit = self
            .entries
            .0
            .lock()
            .unwrap()
            .entries
            .iter()
            .find(|e| e.event_type == EventType::SecurityLogsExported)
            .unwrap()
            .sort_key();
        self.edit_job(&id, |job| {
            job.audit_key = Some(audit);
            job.retention_days = Some(RETENTION_DAYS);
        });
        id
    }

    /// Changes a stored job in place (what the API would have created differently).
    fn edit_job(&self, id: &ExportId, change: impl FnOnce(&mut ExportJob)) {
        let mut jobs = self.jobs.0.lock().unwrap();
        let stored = jobs
            .jobs
            .get_mut(&(self.account.as_str().to_owned(), id.as_str().to_owned()))
            .expect("the job exists");
        change(&mut stored.job);
    }

    fn evidence(&self, id: &ExportId) -> Option<StoredFile> {
        let key = evidence_key(&self.account, id.as_str());
        self.upload.state().files.get(&key).cloned()
    }

    /// One invocation of the job at `now` with `budget` until its deadline.
    async fn run(
        &self,
        id: &ExportId,
        now: Timestamp,
        budget: SignedDuration,
    ) -> Result<Outcome, StoreError> {
        self.worker(now).run(&self.account, id, now + budget).await
    }

    /// One invocation for the stream record of the job's write at `record_version`.
    async fn deliver(
        &self,
        id: &ExportId,
        record_version: u64,
        now: Timestamp,
        budget: SignedDuration,
    ) -> Result<Outcome, StoreError> {
        self.worker(now)
            .run_delivery(&self.account, id, Some(record_version), now + budget)
            .await
    }

    /// A job whose first invocation (at `t0`, for its insert's record) saved a checkpoint
    /// after part 1: `resuming`, as that write's record carries it.
    async fn checkpointed_job(&self) -> (ExportId, StoredJob) {
        let id = self.pending_job();
        let outcome = self.deliver(&id, 1, t0(), SHORT).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Checkpointed { .. }),
            "{outcome:?}"
        );
        let resuming = self.job(&id);
        assert_eq!(resuming.job.status, ExportStatus::Resuming);
        (id, resuming)
    }

    /// Lambda's retry of the record at `record_version` finishes the export at `now`, its
    /// file assembled by `upload_id` with every row once.
    async fn retry_finishes_in(
        &self,
        id: &ExportId,
        record_version: u64,
        now: Timestamp,
        upload_id: &str,
    ) {
        assert_eq!(
            self.deliver(id, record_version, now, WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        let file = self.file(id).unwrap();
        assert_eq!(file.upload_id, upload_id);
        assert!(
            file.bytes == self.expected_csv(),
            "no row missing or repeated"
        );
    }

    /// Invocations of `budget` each, from `start` and 5 s apart, until the export succeeds
    /// with `rows` rows (at most `max` of them: progress); `checkpointed` sees each
    /// checkpoint (the invocation's number, its rows). Returns how many ran.
    async fn run_until_succeeded(
        &self,
        id: &ExportId,
        start: Timestamp,
        budget: SignedDuration,
        rows: u64,
        max: u64,
        mut checkpointed: impl FnMut(u64, u64),
    ) -> u64 {
        let mut now = start;
        for invocation in 1..=max {
            match self.run(id, now, budget).await.unwrap() {
                Outcome::Checkpointed { rows } => checkpointed(invocation, rows),
                Outcome::Succeeded { rows: done } => {
                    assert_eq!(done, rows);
                    return invocation;
                }
                other => panic!("unexpected {other:?}"),
            }
            now += SignedDuration::from_secs(5);
        }
        panic!("no progress in {max} invocations");
    }

    /// `id`'s files are those of the `single` run (the evidence but for the export's id in
    /// its header), and its evidence, if any, verifies.
    fn assert_files_of_single_run(&self, id: &ExportId, single: &ExportId) {
        assert!(
            self.file(id).unwrap().bytes == self.file(single).unwrap().bytes,
            "the CSV differs from a single run's"
        );
        let Some(single_evidence) = self.evidence(single) else {
            assert!(self.evidence(id).is_none());
            return;
        };
        let expected = String::from_utf8(single_evidence.bytes)
            .unwrap()
            .replace(single.as_str(), id.as_str());
        assert!(
            self.evidence(id).unwrap().bytes == expected.as_bytes(),
            "the evidence differs from a single run's"
        );
        verify_export(self, id);
    }

    fn job(&self, id: &ExportId) -> StoredJob {
        self.jobs.current(&self.account, id)
    }

    fn file(&self, id: &ExportId) -> Option<StoredFile> {
        let key = export_key(&self.account, id.as_str());
        self.upload.state().files.get(&key).cloned()
    }

    /// The entries an export lists, newest first.
    fn expected_entries(&self) -> Vec<LogEntry> {
        let mut entries: Vec<LogEntry> = self
            .entries
            .0
            .lock()
            .unwrap()
            .entries
            .iter()
            .filter(|e| e.occurred_at < requested())
            .cloned()
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
        entries
    }

    /// The whole file, encoded in one pass.
    fn expected_csv(&self) -> Vec<u8> {
        let zone = crate::domain::ViewerZone::parse("Asia/Manila").unwrap();
        let mut encoder = CsvEncoder::new(zone, CsvStart::Fresh);
        for entry in self.expected_entries() {
            encoder.row(&entry);
        }
        encoder.take()
    }
}

fn verify_export(h: &Harness, id: &ExportId) -> crate::integrity::evidence::Verified {
    let csv = h.file(id).expect("the CSV is complete");
    let evidence = h.evidence(id).expect("the evidence is complete");
    crate::integrity::evidence::verify(
        csv.bytes.as_slice(),
        evidence.bytes.as_slice(),
        &h.account,
        &[crate::integrity::note::Signer::public_key(&log_signer())],
        None,
    )
    .unwrap_or_else(|e| panic!("the evidence does not verify: {e}"))
}
