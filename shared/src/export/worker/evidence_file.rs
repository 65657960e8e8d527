//! The evidence as a [`Sink`]: the header with the export's own entry, one `leaves` item per
//! index of the checkpoint's tree (leaf data, or null for the indices given in full), then the
//! rows' entries in the CSV's order. The leaves come from the log, a page of leaf data at a
//! time; the rows through the same streaming loop as the CSV's.

use jiff::Timestamp;

use super::ExportWorker;
use super::failure::{Failure, File};
use super::stream::{Progress, Sink, Stream};
use crate::domain::export::{Checkpoint, ExportJob};
use crate::domain::{AccountId, LogEntry};
use crate::export::ports::{Clock, EntrySource, ExportLog, ExportUpload, LEAF_DATA_AT_ONCE};
use crate::integrity::canonical::LeafData;
use crate::integrity::evidence::{EvidenceWriter, ExportScope, Place, Section};

struct EvidenceSink<'s> {
    writer: EvidenceWriter,
    scope: &'s ExportScope,
}

impl EvidenceSink<'_> {
    /// The `leaves` item of `index`, whose retained leaf data is `text`.
    fn leaf(&mut self, index: u64, own_index: u64, text: &str) -> Result<(), Failure> {
        if index == own_index {
            self.writer.leaf(None)?;
        } else if leaf_place(self.scope, index, text)? == Place::Row {
            self.writer.owe_row()?;
        } else {
            self.writer.leaf(Some(text))?;
        }
        Ok(())
    }
}

impl Sink for EvidenceSink<'_> {
    const FILE: File = File::Evidence;

    fn buffered(&self) -> usize {
        self.writer.len()
    }

    fn take(&mut self) -> Vec<u8> {
        self.writer.take()
    }

    fn rows(&self) -> u64 {
        0
    }

    fn write(&mut self, entry: &LogEntry) -> Result<bool, Failure> {
        let Some(index) = entry.log_index.filter(|_| self.scope.holds(entry)) else {
            return Ok(false);
        };
        self.writer.row(index, entry)?;
        Ok(true)
    }

    /// The writer's state: its section, the next leaf, the rows it still owes.
    fn mark(&self, checkpoint: &mut Checkpoint) {
        checkpoint.evidence = Some(self.writer.state());
    }

    fn finish(&mut self) {
        self.writer.finish();
    }
}

impl<J, E: EntrySource, B: ExportUpload, L: ExportLog, C: Clock> ExportWorker<J, E, B, L, C> {
    /// Streams the evidence into the upload `checkpoint` stands for.
    pub(super) async fn stream_evidence(
        &self,
        account: &AccountId,
        job: &ExportJob,
        key: &str,
        checkpoint: &mut Checkpoint,
        deadline: Timestamp,
    ) -> Result<Progress, Failure> {
        let log = job
            .log
            .as_ref()
            .ok_or(Failure::Evidence("the export has no checkpoint"))?;
        let scope = super::scope(job)?.ok_or(Failure::Evidence("the export has no checkpoint"))?;
        let writer = match checkpoint.evidence {
            Some(state) => EvidenceWriter::resume(state),
            None => {
                let audit_key = job
                    .audit_key
                    .as_deref()
                    .ok_or(Failure::Evidence("the export has no entry of its own"))?;
                let request = self
                    .events
                    .entry(account, audit_key)
                    .await?
                    .filter(|entry| entry.log_index == Some(log.index))
                    .ok_or(Failure::Evidence(
                        "the export's own entry is not stored at its log index",
                    ))?;
                EvidenceWriter::start(&log.note, log.size, log.index, &request)?
            }
        };
        let sink = EvidenceSink {
            writer,
            scope: &scope,
        };
        let mut stream = Stream::open(key, checkpoint, deadline, |_, _| Ok(sink))?;
        // `leaves`: every index of the tree, in order.
        while stream.sink.writer.state().section == Section::Leaves
            && stream.sink.writer.state().next_leaf < log.size
        {
            let start = stream.sink.writer.state().next_leaf;
            let end = (start + LEAF_DATA_AT_ONCE).min(log.size);
            let texts = self.log.leaf_data(account, start..end).await?;
            if texts.len() as u64 != end - start {
                return Err(Failure::Evidence("the log's leaf data has gaps"));
            }
            for (index, text) in (start..).zip(&texts) {
                stream.sink.leaf(index, log.index, text)?;
                if self.pause_after_part(&mut stream, None).await? {
                    return Ok(stream.pause());
                }
            }
            if self.pause_before_part(&stream) {
                return Ok(stream.pause());
            }
        }
        stream.sink.writer.leaves_done();
        // `rows`: the CSV's entries, read as the CSV read them.
        if let Some(paused) = self
            .stream_entries(account, &mut stream, &scope.row_filter(), job.created_at)
            .await?
        {
            return Ok(paused);
        }
        if !stream.sink.writer.rows_complete() {
            return Err(Failure::Evidence(
                "entries within the export's reach are no longer stored (was the retention raised?); the evidence could not account for them",
            ));
        }
        Ok(Progress::Done(self.finish(stream).await?))
    }
}

/// Where the entry whose retained leaf data is `text` stands for the export.
fn leaf_place(scope: &ExportScope, index: u64, text: &str) -> Result<Place, Failure> {
    LeafData::parse(text.as_bytes())
        .ok()
        .and_then(|leaf| scope.place_of_leaf(index, &leaf))
        .ok_or(Failure::Evidence(
            "the log's retained leaf data is malformed",
        ))
}
