//! The CSV as a [`Sink`]: the encoder, fed only the entries the export holds. What it lists is
//! decided before it starts ([`RowsRead`]); the streaming loop does the rest.

use jiff::Timestamp;

use super::ExportWorker;
use super::failure::{Failure, File};
use super::stream::{Progress, Sink, Stream};
use crate::csv::{CsvEncoder, CsvStart};
use crate::domain::export::{Checkpoint, ExportJob};
use crate::domain::{AccountId, LogEntry, LogFilter};
use crate::export::ports::{Clock, EntrySource, ExportUpload};
use crate::integrity::evidence::ExportScope;

/// Which entries the CSV lists: those `filter` selects, read as of `as_of`, that `scope` holds
/// (every one when there is no scope: an export without a sealed log, see `super::unsealed`).
pub(super) struct RowsRead {
    pub(super) scope: Option<ExportScope>,
    pub(super) filter: LogFilter,
    pub(super) as_of: Timestamp,
}

impl RowsRead {
    /// A sealed export: the entries recorded before its request that match its filters within
    /// its reach, read as they stood at the request.
    pub(super) fn sealed(scope: ExportScope, job: &ExportJob) -> Self {
        Self {
            filter: scope.row_filter(),
            scope: Some(scope),
            as_of: job.created_at,
        }
    }
}

struct CsvSink<'r> {
    encoder: CsvEncoder,
    scope: Option<&'r ExportScope>,
}

impl Sink for CsvSink<'_> {
    const FILE: File = File::Csv;

    fn buffered(&self) -> usize {
        self.encoder.buffered()
    }

    fn take(&mut self) -> Vec<u8> {
        self.encoder.take()
    }

    fn rows(&self) -> u64 {
        self.encoder.rows()
    }

    fn write(&mut self, entry: &LogEntry) -> Result<bool, Failure> {
        if self.scope.is_some_and(|scope| !scope.holds(entry)) {
            return Ok(false);
        }
        self.encoder.row(entry);
        Ok(true)
    }

    /// The position in the entries is all a resumed CSV needs.
    fn mark(&self, _checkpoint: &mut Checkpoint) {}

    /// A CSV ends with its last row.
    fn finish(&mut self) {}
}

impl<J, E: EntrySource, B: ExportUpload, L, C: Clock> ExportWorker<J, E, B, L, C> {
    /// Streams the CSV's rows into the upload `checkpoint` stands for.
    pub(super) async fn stream_csv(
        &self,
        account: &AccountId,
        job: &ExportJob,
        rows: &RowsRead,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, Failure> {
        let mut stream = Stream::open(key, checkpoint, deadline, |checkpoint, carried| {
            let start = if checkpoint.parts.is_empty() && carried.is_empty() {
                CsvStart::Fresh
            } else {
                CsvStart::Resumed
            };
            Ok(CsvSink {
                encoder: CsvEncoder::new(job.filters.zone(), start),
                scope: rows.scope.as_ref(),
            })
        })?;
        if let Some(paused) = self
            .stream_entries(account, &mut stream, &rows.filter, rows.as_of)
            .await?
        {
            return Ok(paused);
        }
        Ok(Progress::Done(self.finish(stream).await?))
    }
}
