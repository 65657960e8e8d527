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
//!   read; a worker that dies outright is shown as failed once its job goes stale.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::csv::{CsvEncoder, CsvStart};
use crate::domain::export::{
    Checkpoint, ExportId, ExportJob, ExportResult, ExportStatus, UploadedPart,
};
use crate::domain::{AccountId, LogFilter};
use crate::store::StoreError;
use crate::store::events::EventStore;
use crate::store::exports::{ExportStore, StoredJob};
use crate::store::exports_bucket::{BucketError, ExportsBucket, MIN_PART_BYTES, export_key};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Time kept back at the end of an invocation for saving a checkpoint.
    pub reserve: Duration,
    /// Bytes per uploaded part (at least S3's 5 MiB minimum).
    pub part_bytes: usize,
    /// Entries read per storage page.
    pub page_size: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            reserve: Duration::from_secs(60),
            part_bytes: MIN_PART_BYTES,
            page_size: 1000,
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

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Progress {
    Done(ExportResult),
    Paused(Checkpoint),
}

#[derive(Clone)]
pub struct ExportWorker {
    jobs: ExportStore,
    events: EventStore,
    bucket: ExportsBucket,
    settings: WorkerSettings,
}

impl ExportWorker {
    pub fn new(
        jobs: ExportStore,
        events: EventStore,
        bucket: ExportsBucket,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            jobs,
            events,
            bucket,
            settings,
        }
    }

    /// Runs (or continues) one job until it finishes or `deadline` draws near.
    pub async fn run(
        &self,
        account: &AccountId,
        id: &ExportId,
        deadline: Timestamp,
    ) -> Result<Outcome, StoreError> {
        let Some(stored) = self.jobs.get(account, id).await? else {
            return Ok(Outcome::Skipped("no such export"));
        };
        let now = Timestamp::now();
        let claimable = match stored.job.status {
            ExportStatus::Pending | ExportStatus::Resuming => true,
            // A worker that died mid-run: its lease has run out, continue from its checkpoint.
            ExportStatus::Running => stored.lease_until < now.as_second(),
            ExportStatus::Succeeded | ExportStatus::Failed => false,
        };
        if !claimable {
            return Ok(Outcome::Skipped("export is finished or running elsewhere"));
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
        let outcome = match self.export(account, &job, checkpoint, deadline).await {
            Ok(Progress::Done(result)) => {
                let rows = result.row_count;
                job.status = ExportStatus::Succeeded;
                job.completed_at = Some(Timestamp::now());
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
                };
                job.status = ExportStatus::Failed;
                job.completed_at = Some(Timestamp::now());
                job.checkpoint = None;
                job.error = Some(reason.clone());
                Outcome::Failed { reason }
            }
        };
        job.updated_at = Timestamp::now();
        if !self.jobs.save(&claimed, &job, 0).await? {
            // Only a worker whose lease ran out can lose here; the newer run owns the job.
            tracing::warn!(
                export = id.as_str(),
                "export changed while running; result dropped"
            );
            return Ok(Outcome::Skipped("export changed while running"));
        }
        tracing::info!(export = id.as_str(), outcome = ?outcome, "export invocation done");
        Ok(outcome)
    }

    async fn export(
        &self,
        account: &AccountId,
        job: &ExportJob,
        checkpoint: Option<Checkpoint>,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        let key = export_key(account, job.id.as_str());
        let mut checkpoint = match checkpoint {
            Some(c) if !c.parts.is_empty() => c,
            // No part uploaded yet: nothing to keep, start (over) with a new upload.
            _ => Checkpoint {
                upload_id: self.bucket.start(&key, &job.file_name(account)).await?,
                ..Checkpoint::default()
            },
        };
        let result = self
            .stream_rows(account, job, &key, &mut checkpoint, deadline)
            .await;
        if result.is_err()
            && let Err(abort) = self.bucket.abort(&key, &checkpoint.upload_id).await
        {
            tracing::warn!(
                detail = abort.detail(),
                "aborting the upload failed; the bucket lifecycle removes it"
            );
        }
        result
    }

    async fn stream_rows(
        &self,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, RunError> {
        let start = if checkpoint.parts.is_empty() {
            CsvStart::Fresh
        } else {
            CsvStart::Resumed
        };
        let mut encoder = CsvEncoder::new(job.filters.zone(), start);
        let part_bytes = self.settings.part_bytes.max(MIN_PART_BYTES);
        let reserve =
            SignedDuration::try_from(self.settings.reserve).unwrap_or(SignedDuration::MAX);
        let mut rows_in_parts = 0;
        let mut after = checkpoint.after.clone();
        let filter = snapshot(job);
        loop {
            let page = self
                .events
                .page(
                    account,
                    &filter,
                    after.as_deref(),
                    self.settings.page_size,
                    Timestamp::now(),
                )
                .await?;
            for entry in &page.entries {
                encoder.row(entry);
                if encoder.buffered() >= part_bytes {
                    self.upload(key, checkpoint, encoder.take()).await?;
                    checkpoint.rows += encoder.rows() - rows_in_parts;
                    rows_in_parts = encoder.rows();
                    checkpoint.after = Some(entry.sort_key());
                    if deadline.duration_since(Timestamp::now()) < reserve {
                        return Ok(Progress::Paused(checkpoint.clone()));
                    }
                }
            }
            match page.resume_after {
                Some(position) => after = Some(position),
                None => break,
            }
        }
        let rest = encoder.take();
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

/// The job's filter, cut off just before the moment it was requested: an export is a snapshot
/// (entries arriving while it runs do not shift it), and it does not list its own request.
fn snapshot(job: &ExportJob) -> LogFilter {
    let mut filter = job.filters.filter.clone();
    let cutoff = job.created_at - SignedDuration::from_nanos(1);
    filter.to = Some(filter.to.map_or(cutoff, |to| to.min(cutoff)));
    filter
}
