//! One file of an export, from its upload to its completion or abort: which upload it goes into
//! (the checkpoint's, or a new one), starting over when that upload is gone, and aborting the
//! upload when the run fails for good.

use jiff::Timestamp;

use super::ExportWorker;
use super::csv_file::RowsRead;
use super::failure::{Failure, File};
use super::stream::Progress;
use crate::domain::AccountId;
use crate::domain::export::{Checkpoint, ExportJob};
use crate::export::ports::{Clock, EntrySource, ExportLog, ExportUpload};
use crate::storage::BucketError;

/// The file to write, with what it needs to start.
#[derive(Clone, Copy)]
pub(super) enum Writing<'r> {
    /// The CSV, listing these rows.
    Csv(&'r RowsRead),
    Evidence,
}

impl Writing<'_> {
    fn file(self) -> File {
        match self {
            Self::Csv(_) => File::Csv,
            Self::Evidence => File::Evidence,
        }
    }
}

impl<J, E: EntrySource, B: ExportUpload, L: ExportLog, C: Clock> ExportWorker<J, E, B, L, C> {
    /// Streams `writing`'s file into the upload `checkpoint` continues, or a new one. If that
    /// upload is gone (completed by an invocation that died before saving the result, or
    /// aborted), the file starts over in a new upload, from its first row. A failure aborts the
    /// upload, unless it is DynamoDB's passing fault (the retry continues it).
    pub(super) async fn write_file(
        &self,
        writing: Writing<'_>,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: Option<Checkpoint>,
        deadline: Timestamp,
    ) -> Result<Progress, Failure> {
        let filename = match writing.file() {
            File::Csv => job.file_name(account),
            File::Evidence => job.evidence_file_name(account),
        };
        let mut upload = self.continue_upload(key, &filename, checkpoint).await?;
        let resumed = !upload.parts.is_empty();
        let mut progress = self
            .stream(writing, account, job, key, &mut upload, deadline)
            .await;
        if resumed && matches!(progress, Err(Failure::Bucket(BucketError::UploadGone(_)))) {
            tracing::warn!("the checkpoint's upload is gone; starting the file over");
            upload = self.continue_upload(key, &filename, None).await?;
            progress = self
                .stream(writing, account, job, key, &mut upload, deadline)
                .await;
        }
        self.abort_on_error(key, &upload, progress).await
    }

    async fn stream(
        &self,
        writing: Writing<'_>,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, Failure> {
        match writing {
            Writing::Csv(rows) => {
                self.stream_csv(account, job, rows, key, checkpoint, deadline)
                    .await
            }
            Writing::Evidence => {
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
    ) -> Result<Checkpoint, Failure> {
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
        result: Result<Progress, Failure>,
    ) -> Result<Progress, Failure> {
        let fatal = matches!(&result, Err(error) if !error.is_transient());
        if fatal && let Err(abort) = self.bucket.abort(key, &checkpoint.upload_id).await {
            tracing::warn!(
                detail = abort.detail(),
                "aborting the upload failed; the bucket lifecycle removes it"
            );
        }
        result
    }
}
