//! The export worker: turns a pending job into a CSV in S3, in bounded memory, across as many
//! Lambda invocations as the export needs.
//!
//! - Claiming is a conditional write on the job's version, so a duplicate stream delivery
//!   cannot run the same job twice at once; a finished job is never redone.
//! - Rows stream into a multipart upload; a part is cut at a row boundary once the buffer
//!   holds `part_bytes`, so memory stays at about one part plus two pages of entries (the next
//!   page is read while one is written).
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
//! [`super::ports`]; the Lambda's worker, over the real adapters, is
//! `store::export_ports::AwsExportWorker`.
//!
//! This module is the use case: claim the job, seal the log, write the CSV then the evidence,
//! save the outcome. The rest, one job each: `file` (one file's upload: continue, start over,
//! abort), `stream` (the one loop that carries bytes, cuts parts and pauses at the deadline, for
//! both files), `csv_file` and `evidence_file` (the two sinks that loop writes into), `failure`
//! (why a run failed, and what the merchant reads), `unsealed` (the bench-only CSV without a log).

mod csv_file;
mod evidence_file;
mod failure;
mod file;
mod read_ahead;
mod stream;
mod unsealed;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use self::csv_file::RowsRead;
use self::failure::Failure;
use self::file::Writing;
use self::stream::Progress;
use super::object_keys::{evidence_key, export_key};
use super::ports::{Clock, EntrySource, ExportLog, ExportUpload, JobStore, StoredJob, SystemClock};
use crate::domain::AccountId;
use crate::domain::export::{
    Checkpoint, ExportId, ExportJob, ExportPhase, ExportStatus, SealedLog,
};
use crate::integrity::evidence::ExportScope;
use crate::storage::StoreError;

/// The default bytes per uploaded part: S3's smallest part (5 MiB), so memory stays at about one
/// part. A setting below the upload's own minimum is raised to it.
const DEFAULT_PART_BYTES: usize = 5 * 1024 * 1024;

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
            part_bytes: DEFAULT_PART_BYTES,
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

/// How long after its request an export keeps waiting (over several invocations) for the
/// sequencer to reach it, before it fails.
const SEAL_GIVE_UP: SignedDuration = SignedDuration::from_mins(15);

/// How often the worker looks whether the sequencer appended the export's request entry.
const SEAL_POLL: Duration = Duration::from_millis(200);
/// The export worker over a job store `J`, an entry source `E`, an upload target `B` and the
/// account's log `L`, telling time by `C` (by default the system clock). What the Lambda runs,
/// DynamoDB, S3, the log table with the checkpoint key, is `store::export_ports::AwsExportWorker`.
#[derive(Clone)]
pub struct ExportWorker<J, E, B, L, C = SystemClock> {
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
        let exported = self.export(account, &mut job, checkpoint, deadline).await;
        let outcome = match exported.map_err(Failure::into_transient) {
            // DynamoDB is unreachable or overloaded, past the SDK's retries: no verdict. The
            // invocation fails, Lambda retries the record, and the retry takes the job over
            // from its last checkpoint (`run_delivery`); the upload is kept for it.
            Err(Ok(error)) => {
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
            Err(Err(failure)) => {
                failure.log(id);
                let reason = failure.reason();
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
    ) -> Result<Progress, Failure> {
        if let Some(audit_key) = job.audit_key.clone()
            && job.log.is_none()
        {
            match self.seal(account, &audit_key).await {
                Ok(log) => job.log = Some(log),
                // The sequencer is behind (a burst of ingest): hand over to a fresh invocation
                // and wait again, up to a limit, rather than fail a request that will succeed.
                Err(Failure::Unsealed)
                    if self.clock.now().duration_since(job.created_at) < SEAL_GIVE_UP =>
                {
                    return Ok(Progress::Paused(checkpoint.unwrap_or_default()));
                }
                Err(error) => return Err(error),
            }
        }
        if job.phase == ExportPhase::Rows {
            let rows = match scope(job)? {
                Some(scope) => RowsRead::sealed(scope, job),
                None => unsealed::rows_read(job, self.clock.now())?,
            };
            let key = export_key(account, job.id.as_str());
            let written = self
                .write_file(
                    Writing::Csv(&rows),
                    account,
                    job,
                    &key,
                    checkpoint.take(),
                    deadline,
                )
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
            .write_file(Writing::Evidence, account, job, &key, checkpoint, deadline)
            .await?;
        match written {
            Progress::Paused(paused) => Ok(Progress::Paused(paused)),
            Progress::Done(_) => {
                let mut result = job
                    .result
                    .clone()
                    .ok_or(Failure::Evidence("the CSV's result is missing"))?;
                result.evidence_key = Some(key);
                Ok(Progress::Done(result))
            }
        }
    }

    /// Waits until the log holds the export's own request entry, and signs a checkpoint that
    /// ends with it: every entry recorded before the request, and the request itself, whose
    /// entry binds the export's filters to the log.
    async fn seal(&self, account: &AccountId, audit_key: &str) -> Result<SealedLog, Failure> {
        let attempts = (self.settings.seal_wait.as_millis() / SEAL_POLL.as_millis()).max(1);
        for _ in 0..attempts {
            if let Some(index) = self.log.sequenced(account, audit_key).await? {
                let size = index + 1;
                let note = self.log.seal(account, size).await?;
                return Ok(SealedLog { index, size, note });
            }
            tokio::time::sleep(SEAL_POLL).await;
        }
        Err(Failure::Unsealed)
    }
}

/// Which entries a sealed export holds (none for jobs without a log: see `unsealed`).
fn scope(job: &ExportJob) -> Result<Option<ExportScope>, Failure> {
    let Some(log) = &job.log else {
        return Ok(None);
    };
    let retention_days = job
        .retention_days
        .ok_or(Failure::Evidence("the export records no retention"))?;
    Ok(Some(ExportScope::new(
        &job.filters,
        log.index,
        job.created_at,
        retention_days,
    )))
}

#[cfg(test)]
mod tests;
