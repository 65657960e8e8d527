//! The real adapters as the export worker's ports (`export::ports`): the jobs table as its
//! [`JobStore`], the events table as its [`EntrySource`], the bucket as its [`ExportUpload`],
//! and the log table with the checkpoint key as its [`ExportLog`] ([`LogSealer`]). Each method
//! delegates to the adapter's own; [`AwsExportWorker`] is the worker the Lambda runs on them.
//!
//! Here, on the adapters' side, so that the use case names no adapter: `store` uses `export`,
//! never the reverse (infra/check-modules.py).

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use jiff::Timestamp;

use crate::domain::export::{ExportId, ExportJob, UploadedPart};
use crate::domain::{AccountId, LogEntry, LogFilter};
use crate::export::ports::{
    EntrySource, ExportLog, ExportUpload, JobStore, SealError, StoredJob, UnparsedPage,
};
use crate::export::worker::ExportWorker;
use crate::integrity::note::{Checkpoint, NoteError, origin, sign_checkpoint};
use crate::storage::{BucketError, StoreError};
use crate::store::dynamodb::events::{EntryItem, EventStore};
use crate::store::dynamodb::exports::ExportStore;
use crate::store::dynamodb::log::LogStore;
use crate::store::kms::log_keys::LogKeys;
use crate::store::s3::exports_bucket::{self, ExportsBucket};

/// The export worker as the Lambda runs it: jobs in DynamoDB, entries from the events table,
/// files to S3, sealed with the log table and the checkpoint key, on the system clock.
pub type AwsExportWorker = ExportWorker<ExportStore, EventStore, ExportsBucket, LogSealer>;

/// The log table and the checkpoint key: what the Lambda's worker seals exports with.
#[derive(Clone)]
pub struct LogSealer {
    pub log: LogStore,
    pub keys: Arc<LogKeys>,
}

impl ExportLog for LogSealer {
    async fn sequenced(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.log.entry_log_index(account, sort_key).await
    }

    async fn seal(&self, account: &AccountId, size: u64) -> Result<String, SealError> {
        let checkpoint = Checkpoint {
            origin: origin(account),
            size,
            root: self.log.root_at(account, size).await?,
        };
        let signer = self.keys.signer().await.map_err(NoteError::from)?;
        Ok(sign_checkpoint(&checkpoint, signer).await?)
    }

    async fn leaf_data(
        &self,
        account: &AccountId,
        range: Range<u64>,
    ) -> Result<Vec<String>, StoreError> {
        self.log.leaf_data(account, range).await
    }
}

impl JobStore for ExportStore {
    fn get(
        &self,
        account: &AccountId,
        id: &ExportId,
    ) -> impl Future<Output = Result<Option<StoredJob>, StoreError>> + Send {
        ExportStore::get(self, account, id)
    }

    fn save(
        &self,
        stored: &StoredJob,
        job: &ExportJob,
        lease_until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ExportStore::save(self, stored, job, lease_until)
    }

    async fn release(&self, account: &AccountId, id: &ExportId) -> Result<(), StoreError> {
        ExportStore::release(self, account, id.as_str()).await
    }
}

impl EntrySource for EventStore {
    type Unparsed = EntryItem;

    async fn page(
        &self,
        account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> Result<UnparsedPage<EntryItem>, StoreError> {
        let read = EventStore::read_page(self, account, filter, after, limit, now).await?;
        Ok(UnparsedPage {
            entries: read.entries,
            resume_after: read.resume_after,
        })
    }

    fn parse(&self, unparsed: EntryItem) -> Result<LogEntry, StoreError> {
        unparsed.parse()
    }

    fn entry(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> impl Future<Output = Result<Option<LogEntry>, StoreError>> + Send {
        EventStore::entry(self, account, sort_key)
    }
}

impl ExportUpload for ExportsBucket {
    const MIN_PART_BYTES: usize = exports_bucket::MIN_PART_BYTES;

    fn start(
        &self,
        key: &str,
        filename: &str,
    ) -> impl Future<Output = Result<String, BucketError>> + Send {
        ExportsBucket::start(self, key, filename)
    }

    fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<String, BucketError>> + Send {
        ExportsBucket::upload_part(self, key, upload_id, part_number, bytes)
    }

    fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> impl Future<Output = Result<(), BucketError>> + Send {
        ExportsBucket::complete(self, key, upload_id, parts)
    }

    fn abort(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<(), BucketError>> + Send {
        ExportsBucket::abort(self, key, upload_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::worker::WorkerSettings;

    #[test]
    fn the_workers_default_part_is_the_buckets_smallest() {
        assert_eq!(
            WorkerSettings::default().part_bytes,
            <ExportsBucket as ExportUpload>::MIN_PART_BYTES
        );
    }
}
