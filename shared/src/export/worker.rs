//! The export worker: turns a pending job into a CSV in S3, in bounded memory, across as many
//! Lambda invocations as the export needs.
//!
//! - Claiming is a conditional write on the job's version, so a duplicate stream delivery
//!   cannot run the same job twice at once; a finished job is never redone.
//! - Rows stream into a multipart upload; a part is cut at a row boundary once the buffer
//!   holds `part_bytes`, so memory stays at about one part plus one page of entries.
//! - When the invocation's remaining time drops below `reserve` after a part was uploaded,
//!   the job is saved as `resuming` with a checkpoint (upload id, parts, the last exported
//!   sort key, counts). That write's stream record starts the next invocation, which
//!   continues strictly after the checkpoint: no row is missed or repeated.
//! - Any failure aborts the upload and leaves the job `failed` with a reason a merchant can
//!   read. A worker that dies outright (or cannot save its result) leaves the job `running`:
//!   Lambda's retry of the same stream record takes it over at once and continues from the
//!   last checkpoint ([`ExportWorker::run_delivery`]); a job nobody retries shows as failed
//!   once it goes stale.
//!
//! The worker reaches storage, the bucket and the clock only through the traits of
//! [`super::ports`]; [`ExportWorker`]'s type parameters default to the real adapters.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::csv::{CsvEncoder, CsvStart};
use super::ports::{
    Clock, EntrySource, ExportLog, ExportUpload, JobStore, LEAF_DATA_AT_ONCE, LogSealer, SealError,
    SystemClock,
};
use crate::domain::export::{
    Checkpoint, ExportId, ExportJob, ExportPhase, ExportResult, ExportStatus, SealedLog,
    UploadedPart,
};
use crate::domain::{AccountId, LogFilter};
use crate::integrity::canonical::{CanonicalError, LeafData};
use crate::integrity::evidence::{EvidenceWriter, ExportScope, Place, Section};
use crate::store::StoreError;
use crate::store::events::EventStore;
use crate::store::exports::{ExportStore, StoredJob};
use crate::store::exports_bucket::{
    BucketError, ExportsBucket, MIN_PART_BYTES, evidence_key, export_key,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Time kept back at the end of an invocation for saving a checkpoint.
    pub reserve: Duration,
    /// Bytes per uploaded part (at least the upload's minimum: S3's 5 MiB).
    pub part_bytes: usize,
    /// Entries read per storage page.
    pub page_size: usize,
    /// How long to wait for the sequencer to append the export's own request entry.
    pub seal_wait: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            reserve: Duration::from_secs(60),
            part_bytes: MIN_PART_BYTES,
            page_size: 1000,
            seal_wait: Duration::from_secs(60),
        }
    }
}

/// What one invocation did with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do: missing, finished, or owned by another running invocation.
    Skipped(&'static str),
    /// Saved a checkpoint; the next invocation continues.
    Checkpointed {
        rows: u64,
    },
    Succeeded {
        rows: u64,
    },
    Failed {
        reason: String,
    },
}

impl RunError {
    /// DynamoDB's passing fault (reading entries, the log, or sealing it): worth a retry.
    fn is_transient(&self) -> bool {
        matches!(self, Self::Store(error) | Self::Seal(SealError::Store(error)) if error.is_transient())
    }
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log did not reach the export's request entry in time")]
    Unsealed,
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("evidence: {0}")]
    Evidence(&'static str),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// At most this many bytes not yet in a part are carried in the job when time runs out before a
/// part filled (base64 in the job item, which DynamoDB bounds at 400 KB).
const MAX_CARRY: usize = 192 * 1024;

/// How long after its request an export keeps waiting (over several invocations) for the
/// sequencer to reach it, before it fails.
const SEAL_GIVE_UP: SignedDuration = SignedDuration::from_mins(15);

/// How often the worker looks whether the sequencer appended the export's request entry.
const SEAL_POLL: Duration = Duration::from_millis(200);

/// The two files of an export, written one after the other.
#[derive(Clone, Copy)]
enum File {
    Csv,
    Evidence,
}

enum Progress {
    Done(ExportResult),
    Paused(Checkpoint),
}

/// The export worker over a job store `J`, an entry source `E`, an upload target `B` and the
/// account's log `L`, telling time by `C`. The defaults are what the Lambda runs: DynamoDB, S3,
/// the log table with the checkpoint key, and the system clock.
#[derive(Clone)]
pub struct ExportWorker<
    J = ExportStore,
    E = EventStore,
    B = ExportsBucket,
    L = LogSealer,
    C = SystemClock,
> {
    jobs: J,
    events: E,
    bucket: B,
    log: L,
    settings: WorkerSettings,
    clock: C,
}

impl<J, E, B, L> ExportWorker<J, E, B, L>
where
    J: JobStore,
    E: EntrySource,
    B: ExportUpload,
    L: ExportLog,
{
    pub fn new(jobs: J, events: E, bucket: B, log: L, settings: WorkerSettings) -> Self {
        Self {
            jobs,
            events,
            bucket,
            log,
            settings,
            clock: SystemClock,
        }
    }
}

impl<J, E, B, L, C> ExportWorker<J, E, B, L, C>
where
    J: JobStore,
    E: EntrySource,
    B: ExportUpload,
    L: ExportLog,
    C: Clock,
{
    /// Runs (or continues) one job until it finishes or `deadline` draws near, for a delivery
    /// of unknown origin: a job running under a live lease is left to its owner.
    pub async fn run(
        &self,
        account: &AccountId,
        id: &ExportId,
        deadline: Timestamp,
    ) -> Result<Outcome, StoreError> {
        self.run_delivery(account, id, None, deadline).await
    }

    /// Runs (or continues) one job for the stream record of the job's write at
    /// `record_version` (the `version` in the record's new image).
    ///
    /// The event source mapping hands one item's records to one invocation at a time, in order,
    /// and hands a batch again only after the invocation that had it ended in error, timeout or
    /// crash. So a job found `running` at exactly `record_version + 1` was claimed from this
    /// very record by an invocation that is over without having saved: it died (out of memory,
    /// a panic, the timeout) or could not save. Its lease no longer protects anything: this
    /// delivery takes the job over at once and continues from the last saved checkpoint,
    /// instead of skipping it until the job goes stale.
    pub async fn run_delivery(
        &self,
        account: &AccountId,
        id: &ExportId,
        record_version: Option<u64>,
        deadline: Timestamp,
    ) -> Result<Outcome, StoreError> {
        let Some(stored) = self.jobs.get(account, id).await? else {
            return Ok(Outcome::Skipped("no such export"));
        };
        let now = self.clock.now();
        let claimed_from_this_record = record_version.is_some_and(|v| stored.version == v + 1);
        let claimable = match stored.job.status {
            ExportStatus::Pending | ExportStatus::Resuming => true,
            // A worker that died mid-run: continue from its checkpoint.
            ExportStatus::Running => {
                claimed_from_this_record || stored.lease_until < now.as_second()
            }
            ExportStatus::Succeeded | ExportStatus::Failed => false,
        };
        if !claimable {
            return Ok(Outcome::Skipped("export is finished or running elsewhere"));
        }
        if stored.job.status == ExportStatus::Running {
            tracing::warn!(
                export = id.as_str(),
                invocations = stored.job.invocations,
                "taking over an export whose worker ended without saving"
            );
        }
        let mut job = stored.job.clone();
        job.status = ExportStatus::Running;
        job.updated_at = now;
        job.invocations += 1;
        let lease_until = deadline.as_second() + 1;
        if !self.jobs.save(&stored, &job, lease_until).await? {
            return Ok(Outcome::Skipped("another delivery claimed the export"));
        }
        let claimed = StoredJob {
            version: stored.version + 1,
            lease_until,
            job: job.clone(),
            ..stored
        };
        tracing::info!(
            export = id.as_str(),
            resumed = job.checkpoint.is_some(),
            "export claimed"
        );

        let checkpoint = job.checkpoint.take();
        let outcome = match self.export(account, &mut job, checkpoint, deadline).await {
            // DynamoDB is unreachable or overloaded, past the SDK's retries: no verdict. The
            // invocation fails, Lambda retries the record, and the retry takes the job over
            // from its last checkpoint (`run_delivery`); the upload is kept for it.
            Err(RunError::Store(error) | RunError::Seal(SealError::Store(error)))
                if error.is_transient() =>
            {
                tracing::warn!(
                    export = id.as_str(),
                    error = &error as &dyn std::error::Error,
                    "storage unavailable mid-export; left to the retry"
                );
                return Err(error);
            }
            Ok(Progress::Done(result)) => {
                let rows = result.row_count;
                job.status = ExportStatus::Succeeded;
                job.completed_at = Some(self.clock.now());
                job.result = Some(result);
                job.checkpoint = None;
                Outcome::Succeeded { rows }
            }
            Ok(Progress::Paused(checkpoint)) => {
                let rows = checkpoint.rows;
                job.status = ExportStatus::Resuming;
                job.checkpoint = Some(checkpoint);
                Outcome::Checkpointed { rows }
            }
            Err(error) => {
                let reason = match &error {
                    RunError::Bucket(e) => {
                        tracing::error!(
                            export = id.as_str(),
                            detail = e.detail(),
                            "export failed in S3"
                        );
                        e.to_string()
                    }
                    RunError::Store(e) => {
                        tracing::error!(export = id.as_str(), error = %e, "export failed reading logs");
                        "reading the security logs failed; please request the export again"
                            .to_owned()
                    }
                    RunError::Unsealed => {
                        tracing::error!(
                            export = id.as_str(),
                            "the log did not reach the export's request"
                        );
                        "the tamper-evident log is behind; please request the export again"
                            .to_owned()
                    }
                    RunError::Seal(e) => {
                        tracing::error!(export = id.as_str(), error = %e, "sealing the export failed");
                        "signing the export's checkpoint failed; please request the export again"
                            .to_owned()
                    }
                    RunError::Evidence(e) => {
                        tracing::error!(export = id.as_str(), error = %e, "writing the evidence failed");
                        "writing the export's evidence failed; please request the export again"
                            .to_owned()
                    }
                    RunError::Canonical(e) => {
                        tracing::error!(export = id.as_str(), error = %e, "an entry has no canonical form");
                        "writing the export's evidence failed; please request the export again"
                            .to_owned()
                    }
                };
                job.status = ExportStatus::Failed;
                job.completed_at = Some(self.clock.now());
                job.checkpoint = None;
                job.error = Some(reason.clone());
                Outcome::Failed { reason }
            }
        };
        job.updated_at = self.clock.now();
        if !self.jobs.save(&claimed, &job, 0).await? {
            // Only a worker whose lease ran out can lose here; the newer run owns the job.
            tracing::warn!(
                export = id.as_str(),
                "export changed while running; result dropped"
            );
            return Ok(Outcome::Skipped("export changed while running"));
        }
        if job.status.is_finished()
            && let Err(error) = self.jobs.release(account, id).await
        {
            // Its place is freed at the account's next request (a finished job holds none).
            tracing::warn!(export = id.as_str(), %error, "releasing the export's place failed");
        }
        tracing::info!(export = id.as_str(), outcome = ?outcome, "export invocation done");
        Ok(outcome)
    }

    async fn export(
        &self,
        account: &AccountId,
        job: &mut ExportJob,
        mut checkpoint: Option<Checkpoint>,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        if let Some(audit_key) = job.audit_key.clone()
            && job.log.is_none()
        {
            match self.seal(account, &audit_key).await {
                Ok(log) => job.log = Some(log),
                // The sequencer is behind (a burst of ingest): hand over to a fresh invocation
                // and wait again, up to a limit, rather than fail a request that will succeed.
                Err(RunError::Unsealed)
                    if self.clock.now().duration_since(job.created_at) < SEAL_GIVE_UP =>
                {
                    return Ok(Progress::Paused(checkpoint.unwrap_or_default()));
                }
                Err(error) => return Err(error),
            }
        }
        if job.phase == ExportPhase::Rows {
            let key = export_key(account, job.id.as_str());
            let written = self
                .write_file(File::Csv, account, job, &key, checkpoint.take(), deadline)
                .await?;
            match written {
                Progress::Paused(paused) => return Ok(Progress::Paused(paused)),
                Progress::Done(result) if job.log.is_none() => return Ok(Progress::Done(result)),
                Progress::Done(result) => {
                    job.result = Some(result);
                    job.phase = ExportPhase::Evidence;
                    if self.near(deadline) {
                        // The evidence starts in the next invocation, with a new upload.
                        return Ok(Progress::Paused(Checkpoint::default()));
                    }
                }
            }
        }
        let key = evidence_key(account, job.id.as_str());
        let written = self
            .write_file(File::Evidence, account, job, &key, checkpoint, deadline)
            .await?;
        match written {
            Progress::Paused(paused) => Ok(Progress::Paused(paused)),
            Progress::Done(_) => {
                let mut result = job
                    .result
                    .clone()
                    .ok_or(RunError::Evidence("the CSV's result is missing"))?;
                result.evidence_key = Some(key);
                Ok(Progress::Done(result))
            }
        }
    }

    /// Streams `file` into the upload `checkpoint` continues, or a new one. If that
    /// upload is gone (completed by an invocation that died before saving the result, or
    /// aborted), the file starts over in a new upload, from its first row. A failure aborts the
    /// upload, unless it is DynamoDB's passing fault (the retry continues it).
    async fn write_file(
        &self,
        file: File,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: Option<Checkpoint>,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        let filename = match file {
            File::Csv => job.file_name(account),
            File::Evidence => job.evidence_file_name(account),
        };
        let mut upload = self.continue_upload(key, &filename, checkpoint).await?;
        let resumed = !upload.parts.is_empty();
        let mut progress = self
            .stream(file, account, job, key, &mut upload, deadline)
            .await;
        if resumed && matches!(progress, Err(RunError::Bucket(BucketError::UploadGone(_)))) {
            tracing::warn!("the checkpoint's upload is gone; starting the file over");
            upload = self.continue_upload(key, &filename, None).await?;
            progress = self
                .stream(file, account, job, key, &mut upload, deadline)
                .await;
        }
        self.abort_on_error(key, &upload, progress).await
    }

    async fn stream(
        &self,
        file: File,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        match file {
            File::Csv => {
                self.stream_rows(account, job, key, checkpoint, deadline)
                    .await
            }
            File::Evidence => {
                self.stream_evidence(account, job, key, checkpoint, deadline)
                    .await
            }
        }
    }

    /// The upload a checkpoint continues, or a new one if it has no part yet.
    async fn continue_upload(
        &self,
        key: &str,
        filename: &str,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Checkpoint, RunError> {
        Ok(match checkpoint {
            Some(c) if !c.parts.is_empty() => c,
            // No part uploaded yet: a new upload, from where the checkpoint (if any, paused by
            // time with its bytes carried) stands.
            other => Checkpoint {
                upload_id: self.bucket.start(key, filename).await?,
                ..other.unwrap_or_default()
            },
        })
    }

    /// A failed run aborts its upload (its parts would otherwise linger until the lifecycle),
    /// unless the failure is DynamoDB's passing fault: the retry continues that upload.
    async fn abort_on_error(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        result: Result<Progress, RunError>,
    ) -> Result<Progress, RunError> {
        let fatal = matches!(&result, Err(error) if !error.is_transient());
        if fatal && let Err(abort) = self.bucket.abort(key, &checkpoint.upload_id).await {
            tracing::warn!(
                detail = abort.detail(),
                "aborting the upload failed; the bucket lifecycle removes it"
            );
        }
        result
    }

    fn near(&self, deadline: Timestamp) -> bool {
        let reserve =
            SignedDuration::try_from(self.settings.reserve).unwrap_or(SignedDuration::MAX);
        deadline.duration_since(self.clock.now()) < reserve
    }

    /// Waits until the log holds the export's own request entry, and signs a checkpoint that
    /// ends with it: every entry recorded before the request, and the request itself, whose
    /// entry binds the export's filters to the log.
    async fn seal(&self, account: &AccountId, audit_key: &str) -> Result<SealedLog, RunError> {
        let attempts = (self.settings.seal_wait.as_millis() / SEAL_POLL.as_millis()).max(1);
        for _ in 0..attempts {
            if let Some(index) = self.log.sequenced(account, audit_key).await? {
                let size = index + 1;
                let note = self.log.seal(account, size).await?;
                return Ok(SealedLog { index, size, note });
            }
            tokio::time::sleep(SEAL_POLL).await;
        }
        Err(RunError::Unsealed)
    }

    /// The evidence file: the header with the export's own entry, one `leaves` item per index
    /// of the checkpoint's tree (leaf data, or null for the indices given in full), then the
    /// rows' entries in the CSV's order.
    async fn stream_evidence(
        &self,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        let log = job
            .log
            .as_ref()
            .ok_or(RunError::Evidence("the export has no checkpoint"))?;
        let scope = scope(job)?.ok_or(RunError::Evidence("the export has no checkpoint"))?;
        let mut carried = take_carry(checkpoint)?;
        let mut writer = match checkpoint.evidence {
            Some(state) => EvidenceWriter::resume(state),
            None => {
                let audit_key = job
                    .audit_key
                    .as_deref()
                    .ok_or(RunError::Evidence("the export has no entry of its own"))?;
                let request = self
                    .events
                    .entry(account, audit_key)
                    .await?
                    .filter(|entry| entry.log_index == Some(log.index))
                    .ok_or(RunError::Evidence(
                        "the export's own entry is not stored at its log index",
                    ))?;
                EvidenceWriter::start(&log.note, log.size, log.index, &request)?
            }
        };
        // `leaves`: every index of the tree, in order.
        while writer.state().section == Section::Leaves && writer.state().next_leaf < log.size {
            let start = writer.state().next_leaf;
            let end = (start + LEAF_DATA_AT_ONCE).min(log.size);
            let texts = self.log.leaf_data(account, start..end).await?;
            if texts.len() as u64 != end - start {
                return Err(RunError::Evidence("the log's leaf data has gaps"));
            }
            for (index, text) in (start..).zip(&texts) {
                if index == log.index {
                    writer.leaf(None)?;
                } else if leaf_place(&scope, index, text)? == Place::Row {
                    writer.owe_row()?;
                } else {
                    writer.leaf(Some(text))?;
                }
                if self
                    .evidence_part(key, checkpoint, &mut carried, &mut writer)
                    .await?
                    && self.near(deadline)
                {
                    return Ok(pause_evidence(checkpoint, &mut carried, &mut writer));
                }
            }
            if self.near(deadline) && carried.len() + writer.len() <= MAX_CARRY {
                return Ok(pause_evidence(checkpoint, &mut carried, &mut writer));
            }
        }
        writer.leaves_done();
        // `rows`: the CSV's entries, read as the CSV read them.
        let filter = scope.row_filter();
        let mut after = checkpoint.after.clone();
        loop {
            let page = self
                .events
                .page(
                    account,
                    &filter,
                    after.as_deref(),
                    self.settings.page_size,
                    job.created_at,
                )
                .await?;
            for entry in &page.entries {
                let Some(index) = entry.log_index.filter(|_| scope.holds(entry)) else {
                    continue;
                };
                writer.row(index, entry)?;
                if self
                    .evidence_part(key, checkpoint, &mut carried, &mut writer)
                    .await?
                {
                    checkpoint.after = Some(entry.sort_key());
                    if self.near(deadline) {
                        return Ok(pause_evidence(checkpoint, &mut carried, &mut writer));
                    }
                }
            }
            match page.resume_after {
                Some(position) => after = Some(position),
                None => break,
            }
            // Time is running out before a part filled: carry the bytes, as rows do.
            if self.near(deadline) && carried.len() + writer.len() <= MAX_CARRY {
                checkpoint.after = after.clone();
                return Ok(pause_evidence(checkpoint, &mut carried, &mut writer));
            }
        }
        if !writer.rows_complete() {
            return Err(RunError::Evidence(
                "entries within the export's reach are no longer stored (was the retention raised?); the evidence could not account for them",
            ));
        }
        writer.finish();
        let rest = with_carry(&mut carried, writer.take());
        self.upload(key, checkpoint, rest).await?;
        self.bucket
            .complete(key, &checkpoint.upload_id, &checkpoint.parts)
            .await?;
        Ok(Progress::Done(ExportResult {
            object_key: key.to_owned(),
            row_count: 0,
            size_bytes: checkpoint.bytes,
            evidence_key: None,
        }))
    }

    /// Uploads the evidence written so far (after what was carried) as the next part, once it
    /// fills one; whether it did.
    async fn evidence_part(
        &self,
        key: &str,
        checkpoint: &mut Checkpoint,
        carried: &mut Vec<u8>,
        writer: &mut EvidenceWriter,
    ) -> Result<bool, RunError> {
        let part_bytes = self.settings.part_bytes.max(B::MIN_PART_BYTES);
        if carried.len() + writer.len() < part_bytes {
            return Ok(false);
        }
        let bytes = with_carry(carried, writer.take());
        self.upload(key, checkpoint, bytes).await?;
        Ok(true)
    }

    async fn stream_rows(
        &self,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        let mut carried = take_carry(checkpoint)?;
        let start = if checkpoint.parts.is_empty() && carried.is_empty() {
            CsvStart::Fresh
        } else {
            CsvStart::Resumed
        };
        let mut encoder = CsvEncoder::new(job.filters.zone(), start);
        let part_bytes = self.settings.part_bytes.max(B::MIN_PART_BYTES);
        let reserve =
            SignedDuration::try_from(self.settings.reserve).unwrap_or(SignedDuration::MAX);
        let mut rows_in_parts = 0;
        let mut after = checkpoint.after.clone();
        // With a sealed log, the export is the entries recorded before its request that match
        // the filters within its reach; without (jobs seeded by tools), the entries that
        // occurred before it.
        let scope = scope(job)?;
        let (filter, now) = match &scope {
            Some(scope) => (scope.row_filter(), job.created_at),
            None => (snapshot(job), self.clock.now()),
        };
        loop {
            let page = self
                .events
                .page(
                    account,
                    &filter,
                    after.as_deref(),
                    self.settings.page_size,
                    now,
                )
                .await?;
            for entry in &page.entries {
                if scope.as_ref().is_some_and(|scope| !scope.holds(entry)) {
                    continue;
                }
                encoder.row(entry);
                if carried.len() + encoder.buffered() >= part_bytes {
                    let bytes = with_carry(&mut carried, encoder.take());
                    self.upload(key, checkpoint, bytes).await?;
                    checkpoint.rows += encoder.rows() - rows_in_parts;
                    rows_in_parts = encoder.rows();
                    checkpoint.after = Some(entry.sort_key());
                    if deadline.duration_since(self.clock.now()) < reserve {
                        return Ok(Progress::Paused(checkpoint.clone()));
                    }
                }
            }
            match page.resume_after {
                Some(position) => after = Some(position),
                None => break,
            }
            // Time is running out before a part filled (a selective export): keep the bytes
            // in the job and continue after this page in the next invocation.
            let pending = carried.len() + encoder.buffered();
            if deadline.duration_since(self.clock.now()) < reserve && pending <= MAX_CARRY {
                checkpoint.rows += encoder.rows() - rows_in_parts;
                checkpoint.after = after.clone();
                checkpoint.carry = Some(STANDARD.encode(with_carry(&mut carried, encoder.take())));
                return Ok(Progress::Paused(checkpoint.clone()));
            }
        }
        let rest = with_carry(&mut carried, encoder.take());
        if !rest.is_empty() || checkpoint.parts.is_empty() {
            self.upload(key, checkpoint, rest).await?;
        }
        checkpoint.rows += encoder.rows() - rows_in_parts;
        self.bucket
            .complete(key, &checkpoint.upload_id, &checkpoint.parts)
            .await?;
        Ok(Progress::Done(ExportResult {
            object_key: key.to_owned(),
            row_count: checkpoint.rows,
            size_bytes: checkpoint.bytes,
            evidence_key: None,
        }))
    }

    async fn upload(
        &self,
        key: &str,
        checkpoint: &mut Checkpoint,
        bytes: Vec<u8>,
    ) -> Result<(), BucketError> {
        let number = checkpoint.parts.len() as i32 + 1;
        let size = bytes.len() as u64;
        let etag = self
            .bucket
            .upload_part(key, &checkpoint.upload_id, number, bytes)
            .await?;
        checkpoint.parts.push(UploadedPart {
            part_number: number,
            etag,
        });
        checkpoint.bytes += size;
        Ok(())
    }
}

/// The bytes a paused invocation carried over, taken out of the checkpoint.
fn take_carry(checkpoint: &mut Checkpoint) -> Result<Vec<u8>, RunError> {
    match checkpoint.carry.take() {
        None => Ok(Vec::new()),
        Some(text) => STANDARD
            .decode(text)
            .map_err(|_| RunError::Evidence("the checkpoint's carried bytes are not base64")),
    }
}

/// The evidence paused where `writer` stands, its bytes not yet in a part carried in the job.
fn pause_evidence(
    checkpoint: &mut Checkpoint,
    carried: &mut Vec<u8>,
    writer: &mut EvidenceWriter,
) -> Progress {
    checkpoint.evidence = Some(writer.state());
    let rest = with_carry(carried, writer.take());
    if !rest.is_empty() {
        checkpoint.carry = Some(STANDARD.encode(rest));
    }
    Progress::Paused(checkpoint.clone())
}

/// `bytes` after what was carried over (once).
fn with_carry(carried: &mut Vec<u8>, bytes: Vec<u8>) -> Vec<u8> {
    if carried.is_empty() {
        return bytes;
    }
    let mut all = std::mem::take(carried);
    all.extend_from_slice(&bytes);
    all
}

/// Which entries a sealed export holds (none for jobs without a log: seeded by tools).
fn scope(job: &ExportJob) -> Result<Option<ExportScope>, RunError> {
    let Some(log) = &job.log else {
        return Ok(None);
    };
    let retention_days = job
        .retention_days
        .ok_or(RunError::Evidence("the export records no retention"))?;
    Ok(Some(ExportScope::new(
        &job.filters,
        log.index,
        job.created_at,
        retention_days,
    )))
}

/// Where the entry whose retained leaf data is `text` stands for the export.
fn leaf_place(scope: &ExportScope, index: u64, text: &str) -> Result<Place, RunError> {
    LeafData::parse(text.as_bytes())
        .ok()
        .and_then(|leaf| scope.place_of_leaf(index, &leaf))
        .ok_or(RunError::Evidence(
            "the log's retained leaf data is malformed",
        ))
}

/// The job's filter, cut off just before the moment it was requested: an export is a snapshot
/// (entries arriving while it runs do not shift it), and it does not list its own request.
fn snapshot(job: &ExportJob) -> LogFilter {
    let mut filter = job.filters.filter.clone();
    let cutoff = job.created_at - SignedDuration::from_nanos(1);
    filter.to = Some(filter.to.map_or(cutoff, |to| to.min(cutoff)));
    filter
}

/// The claim / lease / checkpoint / resume state machine against in-memory ports: a job store
/// with the DynamoDB adapter's conditional-version semantics, an upload with S3's multipart
/// rules, entries from a `Vec`, and a fixed clock per invocation (as each Lambda invocation
/// reads its own clock; no test depends on the wall clock).
#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::pin::pin;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tokio::sync::Notify;

    use super::*;
    use crate::domain::export::ExportFilters;
    use crate::domain::{Actor, EntryId, EventType, LogEntry};
    use crate::store::events::Page;

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
        async fn page(
            &self,
            _account: &AccountId,
            filter: &LogFilter,
            after: Option<&str>,
            limit: usize,
            _now: Timestamp,
        ) -> Result<Page, StoreError> {
            let mut state = self.0.lock().unwrap();
            state.pages_read += 1;
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
            Ok(Page {
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
                details: crate::domain::export::ExportRequest::details(&request, RETENTION_DAYS)
                    .into(),
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

    // ---- tests ------------------------------------------------------------------------------

    #[tokio::test]
    async fn a_fresh_job_runs_to_succeeded_with_the_exact_rows() {
        let h = Harness::new();
        let id = h.pending_job();
        let deadline = t0() + WHOLE;

        let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

        assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
        assert_eq!(
            h.jobs.0.lock().unwrap().released,
            [id.as_str()],
            "a finished job gives up its place in flight"
        );
        let file = h.file(&id).expect("the file is complete");
        assert!(file.bytes == h.expected_csv(), "exactly the rows, in order");
        let text = String::from_utf8(file.bytes.clone()).unwrap();
        assert_eq!(
            text.matches("\r\n").count() as u64,
            ROWS + 1,
            "header and rows"
        );
        assert!(
            !text.contains(&format!("#{ROWS}")) && !text.contains(&format!("#{}", ROWS + 1)),
            "neither its own audit entry nor one that arrived later"
        );
        assert_eq!(file.filename, "security-logs-acct_1-2024-04-22.csv");
        assert!(file.part_sizes.len() > 3, "{:?}", file.part_sizes);
        let (last, full) = file.part_sizes.split_last().unwrap();
        assert!(
            full.iter().all(|&size| size >= 300),
            "{:?}",
            file.part_sizes
        );
        assert!(*last > 0);

        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Succeeded);
        assert_eq!(
            stored.job.result,
            Some(ExportResult {
                object_key: export_key(&h.account, id.as_str()),
                row_count: ROWS,
                size_bytes: file.bytes.len() as u64,
                evidence_key: None,
            })
        );
        assert_eq!(stored.job.completed_at, Some(t0()));
        assert_eq!(stored.job.updated_at, t0());
        assert_eq!(stored.job.invocations, 1);
        assert_eq!(stored.job.checkpoint, None);
        assert_eq!(stored.job.error, None);
        assert_eq!(
            h.jobs.writes(),
            [
                (ExportStatus::Running, deadline.as_second() + 1),
                (ExportStatus::Succeeded, 0),
            ],
            "claimed under a lease until just after the deadline, released when done"
        );
        let upload = h.upload.state();
        assert_eq!(upload.started, 1);
        assert!(upload.open.is_empty() && upload.aborted.is_empty());
    }

    #[tokio::test]
    async fn a_duplicate_delivery_while_the_job_runs_under_a_live_lease_is_skipped() {
        let h = Harness::new();
        let id = h.pending_job();
        // The first delivery's invocation claims the job and is busy uploading part 2.
        let gate = h.upload.hold_part(2);
        let first = h.worker(t0());
        let mut running = pin!(first.run(&h.account, &id, t0() + WHOLE));
        assert!(futures::poll!(&mut running).is_pending());
        let claimed = h.job(&id);
        assert_eq!(claimed.job.status, ExportStatus::Running);
        assert_eq!(claimed.lease_until, (t0() + WHOLE).as_second() + 1);

        // A duplicate delivery, at once or in the lease's last second, leaves the job alone.
        let last_second = Timestamp::from_second(claimed.lease_until).unwrap();
        for now in [t0(), last_second] {
            let outcome = h.run(&id, now, WHOLE).await.unwrap();
            assert_eq!(
                outcome,
                Outcome::Skipped("export is finished or running elsewhere")
            );
        }
        assert_eq!(h.job(&id).version, claimed.version, "nothing written");
        assert_eq!(h.upload.state().started, 1, "no second upload");

        // The owner carries on undisturbed.
        gate.notify_one();
        assert_eq!(running.await.unwrap(), Outcome::Succeeded { rows: ROWS });
        assert!(h.file(&id).unwrap().bytes == h.expected_csv());
        assert_eq!(h.job(&id).job.invocations, 1);
    }

    #[tokio::test]
    async fn a_job_whose_lease_ran_out_is_taken_over_and_the_dead_upload_is_left_to_the_lifecycle()
    {
        let h = Harness::new();
        let id = h.pending_job();
        // The first invocation uploads part 1 and dies during part 2 (Lambda ends the sandbox:
        // its future is dropped), before any checkpoint.
        let _gate = h.upload.hold_part(2);
        {
            let first = h.worker(t0());
            let mut running = pin!(first.run(&h.account, &id, t0() + WHOLE));
            assert!(futures::poll!(&mut running).is_pending());
        }
        let dead = h.job(&id);
        assert_eq!(dead.job.status, ExportStatus::Running);
        assert_eq!(dead.job.checkpoint, None);

        // The first delivery after the lease takes the job over.
        let later = Timestamp::from_second(dead.lease_until + 1).unwrap();
        let outcome = h.run(&id, later, WHOLE).await.unwrap();

        assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Succeeded);
        assert_eq!(stored.job.invocations, 2);
        assert_eq!(stored.job.completed_at, Some(later));
        // With no checkpoint to continue, the takeover starts over in a new upload; the file is
        // made of its parts alone. The dead invocation's upload is neither completed nor aborted
        // (it was never recorded anywhere the takeover could see it): it stays open with its part
        // until the bucket's lifecycle rule aborts incomplete uploads (after a day).
        let file = h.file(&id).unwrap();
        assert_eq!(file.upload_id, "upload-2");
        assert!(file.bytes == h.expected_csv());
        let upload = h.upload.state();
        assert_eq!(upload.open.keys().collect::<Vec<_>>(), ["upload-1"]);
        assert_eq!(
            upload.open["upload-1"].parts.keys().collect::<Vec<_>>(),
            [&1]
        );
        assert!(upload.aborted.is_empty());
    }

    #[tokio::test]
    async fn a_worker_that_outlives_its_lease_loses_its_result_to_the_takeover() {
        let h = Harness::new();
        let id = h.pending_job();
        // The first invocation stalls in part 2 past its lease (it is not dead, only slow).
        let gate = h.upload.hold_part(2);
        let first = h.worker(t0());
        let mut stalled = pin!(first.run(&h.account, &id, t0() + WHOLE));
        assert!(futures::poll!(&mut stalled).is_pending());
        let later = Timestamp::from_second(h.job(&id).lease_until + 1).unwrap();
        assert_eq!(
            h.run(&id, later, WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        let finished = h.job(&id);

        // The stalled invocation wakes up and finishes its own upload to the same key (the same
        // snapshot, so the same bytes), but its final write loses: the job keeps the takeover's
        // result.
        gate.notify_one();
        assert_eq!(
            stalled.await.unwrap(),
            Outcome::Skipped("export changed while running")
        );
        let file = h.file(&id).unwrap();
        assert_eq!(
            file.upload_id, "upload-1",
            "the last completion wins the key"
        );
        assert!(file.bytes == h.expected_csv());
        let now = h.job(&id);
        assert_eq!(now.version, finished.version);
        assert_eq!(now.job, finished.job);
    }

    #[tokio::test]
    async fn a_finished_job_is_never_redone() {
        let h = Harness::new();
        let succeeded = h.pending_job();
        assert_eq!(
            h.run(&succeeded, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        let failed = h.pending_job();
        h.upload.fail_part(1);
        assert!(matches!(
            h.run(&failed, t0(), WHOLE).await.unwrap(),
            Outcome::Failed { .. }
        ));
        let (pages, uploads) = (h.entries.pages_read(), h.upload.state().started);
        let writes = h.jobs.writes().len();
        let file = h.file(&succeeded).unwrap();

        // Redeliveries, at once and a day later (no lease holds a finished job).
        for id in [&succeeded, &failed] {
            let before = h.job(id);
            for now in [t0(), t0() + SignedDuration::from_hours(24)] {
                assert_eq!(
                    h.run(id, now, WHOLE).await.unwrap(),
                    Outcome::Skipped("export is finished or running elsewhere")
                );
            }
            let after = h.job(id);
            assert_eq!((after.version, &after.job), (before.version, &before.job));
        }
        assert_eq!(h.jobs.writes().len(), writes, "no write");
        assert_eq!(h.entries.pages_read(), pages, "no read");
        assert_eq!(h.upload.state().started, uploads, "no upload");
        assert_eq!(h.file(&succeeded).unwrap(), file);
        assert_eq!(
            h.run(&ExportId::generate(), t0(), WHOLE).await.unwrap(),
            Outcome::Skipped("no such export")
        );
    }

    #[tokio::test]
    async fn a_run_checkpointed_after_every_part_writes_the_same_file_as_a_single_run() {
        let h = Harness::new();
        let single = h.pending_job();
        assert_eq!(
            h.run(&single, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        let single_file = h.file(&single).unwrap();

        // Every invocation has less time left than the reserve, so each one uploads one part,
        // saves a checkpoint and hands over (the `resuming` write starts the next one).
        let resumed = h.pending_job();
        let expected_entries = h.expected_entries();
        let mut rows_so_far = 0;
        let invocations = h
            .run_until_succeeded(&resumed, t0(), SHORT, ROWS, 2 * ROWS, |invocation, rows| {
                let stored = h.job(&resumed);
                assert_eq!(stored.job.status, ExportStatus::Resuming);
                assert_eq!(stored.lease_until, 0, "released for the next invocation");
                let checkpoint = stored.job.checkpoint.unwrap();
                assert_eq!(checkpoint.upload_id, "upload-2", "one upload throughout");
                assert_eq!(checkpoint.parts.len() as u64, invocation, "a part each");
                assert!(rows > rows_so_far, "progress: {rows} after {rows_so_far}");
                assert_eq!(checkpoint.rows, rows);
                // Exactly the first `rows` rows are in the parts, the checkpoint points at the
                // last of them, and the next invocation continues strictly after it.
                assert_eq!(
                    checkpoint.after,
                    Some(expected_entries[rows as usize - 1].sort_key())
                );
                rows_so_far = rows;
            })
            .await;

        assert!(invocations >= 3, "{invocations}");
        let stored = h.job(&resumed);
        assert_eq!(stored.job.invocations as u64, invocations);
        assert_eq!(stored.job.result.unwrap().row_count, ROWS);
        let file = h.file(&resumed).unwrap();
        assert!(
            file.bytes == single_file.bytes,
            "the checkpointed file differs from a single run"
        );
        assert!(file.bytes == h.expected_csv());
        assert_eq!(
            file.part_sizes, single_file.part_sizes,
            "cut at the same rows"
        );
        assert!(
            h.upload
                .uploads_per_part("upload-2")
                .values()
                .all(|&n| n == 1),
            "no part uploaded twice"
        );
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

    #[tokio::test]
    async fn a_job_the_api_created_exports_the_log_before_its_request_with_evidence() {
        let h = Harness::new();
        let id = h.pending_job_with_evidence();
        assert_eq!(
            h.run(&id, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        assert!(
            h.file(&id).unwrap().bytes == h.expected_csv(),
            "the same rows as ever"
        );
        let verified = verify_export(&h, &id);
        assert_eq!(
            (verified.rows, verified.size, verified.request_index),
            (ROWS, ROWS + 1, ROWS)
        );
        assert!(verified.expired.is_empty());
        let job = h.job(&id).job;
        assert_eq!(
            job.log.map(|l| (l.index, l.size)),
            Some((ROWS, ROWS + 1)),
            "the log up to and with the request entry"
        );
        assert_eq!(
            job.result.unwrap().evidence_key,
            Some(evidence_key(&h.account, id.as_str()))
        );
    }

    #[tokio::test]
    async fn a_filtered_export_proves_the_other_entries_do_not_match() {
        let h = Harness::with_filters(|f| f.filter.actor = Some("u_3".into()));
        let id = h.pending_job_with_evidence();
        assert_eq!(
            h.run(&id, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: 1 }
        );
        let verified = verify_export(&h, &id);
        assert_eq!((verified.rows, verified.size), (1, ROWS + 1));
    }

    /// The log owes a row storage no longer holds (retention raised after it expired): the
    /// export fails with a reason instead of shipping evidence that cannot verify.
    #[tokio::test]
    async fn a_row_the_log_owes_but_storage_lost_fails_the_export() {
        let h = Harness::new();
        let id = h.pending_job_with_evidence();
        h.entries
            .0
            .lock()
            .unwrap()
            .entries
            .retain(|e| e.log_index != Some(3));
        let outcome = h.run(&id, t0(), WHOLE).await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Failed { reason } if reason.contains("evidence")),
            "{outcome:?}"
        );
        assert!(h.evidence(&id).is_none(), "no evidence file was completed");
    }

    #[tokio::test]
    async fn evidence_written_across_invocations_is_the_file_of_a_single_run() {
        let h = Harness::new();
        let single = h.pending_job_with_evidence();
        h.run(&single, t0(), WHOLE).await.unwrap();
        let resumed = h.pending_job_with_evidence();
        let mut evidence_pauses = 0;
        h.run_until_succeeded(&resumed, t0(), SHORT, ROWS, 20 * ROWS, |_, _| {
            let job = h.job(&resumed).job;
            if job.checkpoint.and_then(|c| c.evidence).is_some() {
                evidence_pauses += 1;
            }
        })
        .await;
        assert!(
            evidence_pauses >= 2,
            "the evidence was checkpointed too: {evidence_pauses}"
        );
        h.assert_files_of_single_run(&resumed, &single);
    }

    /// Issue "load and faults": an export whose filter matches little fills no part before its
    /// time runs out; it must still checkpoint (by time, carrying its few bytes), and the file
    /// must be the one a single run writes.
    #[tokio::test]
    async fn a_selective_export_checkpoints_by_time_and_writes_the_same_files() {
        for with_evidence in [false, true] {
            let h = Harness::with_filters(|f| f.filter.actor = Some("u_7".into()));
            let new_job = |h: &Harness| {
                if with_evidence {
                    h.pending_job_with_evidence()
                } else {
                    h.pending_job()
                }
            };
            let single = new_job(&h);
            assert_eq!(
                h.run(&single, t0(), WHOLE).await.unwrap(),
                Outcome::Succeeded { rows: 1 }
            );

            let paused = new_job(&h);
            let mut carried = 0;
            h.run_until_succeeded(&paused, t0(), SHORT, 1, 100, |_, _| {
                let checkpoint = h.job(&paused).job.checkpoint.unwrap();
                if checkpoint.carry.is_some() {
                    carried += 1;
                }
            })
            .await;
            assert!(
                carried >= 2,
                "paused by time, carrying its bytes: {carried}"
            );
            h.assert_files_of_single_run(&paused, &single);
        }
    }

    #[tokio::test]
    async fn an_export_waits_for_the_log_then_fails_with_a_reason_if_it_never_comes() {
        let h = Harness::new();
        let id = h.pending_job_with_evidence();
        let indices = std::mem::take(&mut *h.log.indices.lock().unwrap());
        // The sequencer is behind: the invocation hands over instead of failing.
        assert_eq!(
            h.run(&id, t0(), WHOLE).await.unwrap(),
            Outcome::Checkpointed { rows: 0 }
        );
        assert_eq!(h.job(&id).job.status, ExportStatus::Resuming);
        // Still behind a quarter of an hour after the request: failed, with a reason.
        let late = requested() + SignedDuration::from_mins(16);
        match h.run(&id, late, WHOLE).await.unwrap() {
            Outcome::Failed { reason } => {
                assert!(reason.contains("tamper-evident log"), "{reason}")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(h.file(&id).is_none() && h.evidence(&id).is_none());
        // Had it caught up in between, the export would have gone on.
        *h.log.indices.lock().unwrap() = indices;
        let other = h.pending_job_with_evidence();
        assert_eq!(
            h.run(&other, t0(), WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
    }

    #[tokio::test]
    async fn a_failed_part_upload_aborts_the_upload_and_fails_the_job_with_a_reason() {
        let h = Harness::new();
        let id = h.pending_job();
        h.upload.fail_part(3);

        let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

        let reason = "the exports bucket is unreachable, retry later";
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: reason.into()
            }
        );
        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Failed);
        assert_eq!(stored.job.error.as_deref(), Some(reason));
        assert_eq!(stored.job.completed_at, Some(t0()));
        assert_eq!(stored.job.checkpoint, None);
        assert_eq!(stored.job.result, None);
        assert_eq!(stored.lease_until, 0);
        let upload = h.upload.state();
        assert_eq!(upload.aborted, ["upload-1"], "S3 frees the parts");
        assert!(upload.open.is_empty());
        assert!(upload.files.is_empty(), "no file");
    }

    #[tokio::test]
    async fn a_failure_after_a_checkpoint_aborts_the_upload_the_checkpoint_continued() {
        let h = Harness::new();
        let id = h.pending_job();
        assert!(matches!(
            h.run(&id, t0(), SHORT).await.unwrap(),
            Outcome::Checkpointed { .. }
        ));
        h.upload.fail_part(2);

        let later = t0() + SignedDuration::from_secs(5);
        let outcome = h.run(&id, later, WHOLE).await.unwrap();

        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Failed);
        assert_eq!(stored.job.checkpoint, None);
        assert_eq!(stored.job.invocations, 2);
        let upload = h.upload.state();
        assert_eq!(upload.started, 1);
        assert_eq!(
            upload.aborted,
            ["upload-1"],
            "the upload of the first invocation"
        );
        assert!(upload.open.is_empty() && upload.files.is_empty());
    }

    #[tokio::test]
    async fn a_read_while_dynamodb_is_unavailable_leaves_the_job_to_the_retry() {
        let h = Harness::new();
        let (id, resuming) = h.checkpointed_job().await;
        let pages_read = h.entries.0.lock().unwrap().pages_read;
        h.entries.fail_page_unavailable(pages_read + 2);
        let t1 = t0() + SignedDuration::from_secs(5);

        // No verdict: the invocation fails (Lambda retries the record), the upload is kept.
        let error = h
            .deliver(&id, resuming.version, t1, WHOLE)
            .await
            .unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(h.job(&id).job.status, ExportStatus::Running);
        assert!(h.upload.state().aborted.is_empty());

        // The retry takes the job over from its checkpoint and finishes it.
        h.retry_finishes_in(&id, resuming.version, t1, "upload-1")
            .await;
    }

    #[tokio::test]
    async fn a_seal_while_the_log_table_is_unavailable_leaves_the_job_to_the_retry() {
        let h = Harness::new();
        let id = h.pending_job_with_evidence();
        h.log
            .seal_unavailable
            .store(true, std::sync::atomic::Ordering::Relaxed);

        let error = h.deliver(&id, 1, t0(), WHOLE).await.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(h.job(&id).job.status, ExportStatus::Running);

        let outcome = h.deliver(&id, 1, t0(), WHOLE).await.unwrap();
        assert_eq!(outcome, Outcome::Succeeded { rows: ROWS });
        verify_export(&h, &id);
    }

    #[tokio::test]
    async fn a_failed_read_aborts_the_upload_and_fails_the_job_with_a_reason() {
        let h = Harness::new();
        let id = h.pending_job();
        h.entries.fail_page(3);

        let outcome = h.run(&id, t0(), WHOLE).await.unwrap();

        let reason = "reading the security logs failed; please request the export again";
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: reason.into()
            }
        );
        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Failed);
        assert_eq!(stored.job.error.as_deref(), Some(reason));
        let upload = h.upload.state();
        assert_eq!(upload.aborted, ["upload-1"]);
        assert!(upload.open.is_empty() && upload.files.is_empty());
    }

    #[tokio::test]
    async fn a_checkpoint_that_cannot_be_saved_leaves_the_job_to_whoever_comes_after_the_lease() {
        let h = Harness::new();
        let id = h.pending_job();
        // Invocation 1 saves its checkpoint after part 1.
        assert!(matches!(
            h.run(&id, t0(), SHORT).await.unwrap(),
            Outcome::Checkpointed { .. }
        ));
        let saved = h.job(&id).job.checkpoint.unwrap();
        assert_eq!(saved.parts.len(), 1);

        // Invocation 2 uploads part 2, then its checkpoint write fails.
        h.jobs.fail_next_save_of(ExportStatus::Resuming);
        let t1 = t0() + SignedDuration::from_secs(5);
        let error = h.run(&id, t1, SHORT).await.unwrap_err();
        assert!(matches!(error, StoreError::Dynamo(_)), "{error:?}");

        // The error goes back to Lambda (which retries the batch). The job stays as invocation 2
        // claimed it: running under its lease, holding invocation 1's checkpoint. The upload is
        // not aborted and keeps the part whose checkpoint was lost.
        let stuck = h.job(&id);
        assert_eq!(stuck.job.status, ExportStatus::Running);
        assert_eq!(stuck.lease_until, (t1 + SHORT).as_second() + 1);
        assert_eq!(stuck.job.checkpoint.as_ref(), Some(&saved));
        {
            let upload = h.upload.state();
            assert!(upload.aborted.is_empty());
            assert_eq!(
                upload.open["upload-1"].parts.keys().collect::<Vec<_>>(),
                [&1, &2]
            );
        }
        // A delivery of unknown origin within the lease is skipped. (Lambda's retry of the record
        // invocation 2 claimed from takes over at once: see the tests of `run_delivery` below.)
        assert_eq!(
            h.run(&id, t1, SHORT).await.unwrap(),
            Outcome::Skipped("export is finished or running elsewhere")
        );

        // A delivery after the lease continues from invocation 1's checkpoint, in the same
        // upload: part 2 is uploaded again over the orphaned one; no row is missing or repeated.
        let after_lease = Timestamp::from_second(stuck.lease_until + 1).unwrap();
        h.run_until_succeeded(&id, after_lease, SHORT, ROWS, 2 * ROWS, |_, _| {})
            .await;
        let file = h.file(&id).unwrap();
        assert_eq!(file.upload_id, "upload-1");
        assert!(file.bytes == h.expected_csv());
        let per_part = h.upload.uploads_per_part("upload-1");
        assert_eq!(per_part[&2], 2, "part 2 replaced");
        assert!(per_part.iter().all(|(&n, &count)| n == 2 || count == 1));
    }

    #[tokio::test]
    async fn a_retry_of_the_record_a_dead_worker_claimed_from_takes_over_at_once() {
        let h = Harness::new();
        let (id, resuming) = h.checkpointed_job().await;
        // Invocation 2, for that record, claims the job, uploads part 2 and dies in part 3
        // (out of memory, a panic: its future is dropped) with its lease still ahead.
        let t1 = t0() + SignedDuration::from_secs(5);
        let _gate = h.upload.hold_part(3);
        {
            let doomed = h.worker(t1);
            let mut running =
                pin!(doomed.run_delivery(&h.account, &id, Some(resuming.version), t1 + WHOLE));
            assert!(futures::poll!(&mut running).is_pending());
        }
        let dead = h.job(&id);
        assert_eq!(dead.job.status, ExportStatus::Running);
        assert_eq!(dead.version, resuming.version + 1);
        assert!(
            dead.lease_until > t1.as_second(),
            "the lease is still ahead"
        );

        // A delivery of some other record (an older one, or of unknown origin) still leaves a
        // job under a live lease alone...
        let skipped = Outcome::Skipped("export is finished or running elsewhere");
        assert_eq!(h.deliver(&id, 1, t1, WHOLE).await.unwrap(), skipped);
        assert_eq!(h.run(&id, t1, WHOLE).await.unwrap(), skipped);
        // ...but Lambda's retry of the same record takes it over at once, from the checkpoint,
        // in the same upload: part 2 is uploaded again over the dead worker's.
        h.retry_finishes_in(&id, resuming.version, t1, "upload-1")
            .await;
        assert_eq!(h.upload.uploads_per_part("upload-1")[&2], 2);
        assert_eq!(h.job(&id).job.invocations, 3);
    }

    #[tokio::test]
    async fn a_retry_after_a_lost_final_save_starts_the_completed_file_over() {
        let h = Harness::new();
        let (id, resuming) = h.checkpointed_job().await;
        // Invocation 2 completes the upload, then DynamoDB fails its final save: the job stays
        // `running` with invocation 1's checkpoint, whose upload no longer exists.
        let t1 = t0() + SignedDuration::from_secs(5);
        h.jobs.fail_next_save_of(ExportStatus::Succeeded);
        let error = h
            .deliver(&id, resuming.version, t1, WHOLE)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Dynamo(_)), "{error:?}");
        assert_eq!(h.job(&id).job.status, ExportStatus::Running);
        assert!(h.upload.state().open.is_empty(), "upload-1 was completed");

        // Lambda retries the record: the checkpoint's upload is gone, so the file starts over
        // in a new upload (a job that is not `succeeded` has no download link meanwhile).
        let t2 = t1 + SignedDuration::from_secs(1);
        assert_eq!(
            h.deliver(&id, resuming.version, t2, WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        let file = h.file(&id).unwrap();
        assert_eq!(file.upload_id, "upload-2");
        assert!(file.bytes == h.expected_csv(), "no row missing or repeated");
        let stored = h.job(&id);
        assert_eq!(stored.job.status, ExportStatus::Succeeded);
        assert_eq!(stored.job.result.unwrap().row_count, ROWS);
    }

    #[tokio::test]
    async fn a_retry_after_a_lost_final_save_starts_the_completed_evidence_over() {
        let h = Harness::new();
        let single = h.pending_job_with_evidence();
        h.run(&single, t0(), WHOLE).await.unwrap();
        // Short invocations until the evidence is checkpointed with a part uploaded.
        let id = h.pending_job_with_evidence();
        let mut now = t0();
        let record = loop {
            let version = h.job(&id).version;
            let outcome = h.deliver(&id, version, now, SHORT).await.unwrap();
            assert!(
                matches!(outcome, Outcome::Checkpointed { .. }),
                "{outcome:?}"
            );
            now += SignedDuration::from_secs(5);
            let checkpoint = h.job(&id).job.checkpoint.unwrap();
            if checkpoint.evidence.is_some() && !checkpoint.parts.is_empty() {
                break h.job(&id).version;
            }
        };
        // The next invocation completes the evidence, and its final save fails.
        h.jobs.fail_next_save_of(ExportStatus::Succeeded);
        assert!(h.deliver(&id, record, now, WHOLE).await.is_err());
        assert!(
            h.upload.state().open.is_empty(),
            "the evidence was completed"
        );

        assert_eq!(
            h.deliver(&id, record, now, WHOLE).await.unwrap(),
            Outcome::Succeeded { rows: ROWS }
        );
        h.assert_files_of_single_run(&id, &single);
    }

    #[tokio::test]
    async fn concurrent_deliveries_of_a_pending_job_run_it_once() {
        let h = Harness::new();
        let id = h.pending_job();
        // Both deliveries read the pending job before either claims it.
        h.jobs.yield_on_get();
        let (a, b) = (h.worker(t0()), h.worker(t0()));

        let (a, b) = tokio::join!(
            a.run(&h.account, &id, t0() + WHOLE),
            b.run(&h.account, &id, t0() + WHOLE)
        );

        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(
            outcomes,
            [
                Outcome::Skipped("another delivery claimed the export"),
                Outcome::Succeeded { rows: ROWS },
            ]
        );
        assert_eq!(h.upload.state().started, 1);
        assert!(h.file(&id).unwrap().bytes == h.expected_csv());
        assert_eq!(h.job(&id).job.invocations, 1);
    }
}
