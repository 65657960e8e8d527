//! The one streaming loop both files of an export go through. A file is written entry by entry
//! into a [`Sink`] (the CSV encoder, the evidence writer); this module alone decides when its
//! bytes become a part of the multipart upload, when the invocation pauses (after a part, near
//! the deadline; or before a part filled, carrying its few bytes in the job), and how a paused
//! file resumes (the carried bytes first). It was written twice, once per file, and the copies
//! drifted; now a rule of carrying, uploading or pausing changes in one place for both files.

use std::pin::pin;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::maybe_done;
use jiff::{SignedDuration, Timestamp};

use super::ExportWorker;
use super::failure::{Failure, File};
use super::read_ahead::{Ahead, ENTRIES_PER_TURN, alongside};
use crate::domain::export::{Checkpoint, ExportResult, UploadedPart};
use crate::domain::{AccountId, LogEntry, LogFilter};
use crate::export::ports::{Clock, EntrySource, ExportUpload};
use crate::storage::BucketError;

/// At most this many bytes not yet in a part are carried in the job when time runs out before a
/// part filled (base64 in the job item, which DynamoDB bounds at 400 KB).
const MAX_CARRY: usize = 192 * 1024;

/// Where one invocation left a file.
pub(super) enum Progress {
    Done(ExportResult),
    Paused(Checkpoint),
}

/// A file written entry by entry, its bytes drained by the streaming loop.
pub(super) trait Sink {
    /// The file this sink writes (the failures of its stream name it).
    const FILE: File;

    /// Bytes written and not yet taken.
    fn buffered(&self) -> usize;

    /// The bytes written since the last take.
    fn take(&mut self) -> Vec<u8>;

    /// Rows the checkpoint counts: the CSV's rows; the evidence counts none (its rows are the
    /// CSV's, already counted).
    fn rows(&self) -> u64;

    /// Writes `entry` if the file holds it; whether it did (only then may a part be cut).
    fn write(&mut self, entry: &LogEntry) -> Result<bool, Failure>;

    /// Records in a checkpoint what a resumed sink needs beyond the position in the entries.
    fn mark(&self, checkpoint: &mut Checkpoint);

    /// Writes the file's end.
    fn finish(&mut self);
}

/// One file being streamed in this invocation: its sink, the upload's checkpoint it advances,
/// and the bytes a paused invocation carried over (they go first into the next part).
pub(super) struct Stream<'c, S> {
    pub(super) sink: S,
    key: &'c str,
    checkpoint: &'c mut Checkpoint,
    carried: Vec<u8>,
    /// [`Sink::rows`] when the checkpoint last counted them.
    rows_counted: u64,
    deadline: Timestamp,
}

impl<'c, S: Sink> Stream<'c, S> {
    /// Takes the carried bytes out of `checkpoint`; `sink` is built knowing whether there were
    /// any (a CSV resumed from carried bytes has already written its header).
    pub(super) fn open(
        key: &'c str,
        checkpoint: &'c mut Checkpoint,
        deadline: Timestamp,
        sink: impl FnOnce(&Checkpoint, &[u8]) -> Result<S, Failure>,
    ) -> Result<Self, Failure> {
        let carried = match checkpoint.carry.take() {
            None => Vec::new(),
            Some(text) => STANDARD
                .decode(text)
                .map_err(|_| Failure::CorruptCarry(S::FILE))?,
        };
        let sink = sink(checkpoint, &carried)?;
        Ok(Self {
            rows_counted: sink.rows(),
            sink,
            key,
            checkpoint,
            carried,
            deadline,
        })
    }

    fn pending(&self) -> usize {
        self.carried.len() + self.sink.buffered()
    }

    /// The bytes not yet in a part: what was carried over (once), then the sink's.
    fn take_pending(&mut self) -> Vec<u8> {
        let bytes = self.sink.take();
        if self.carried.is_empty() {
            return bytes;
        }
        let mut all = std::mem::take(&mut self.carried);
        all.extend_from_slice(&bytes);
        all
    }

    fn count_rows(&mut self) {
        let rows = self.sink.rows();
        self.checkpoint.rows += rows - self.rows_counted;
        self.rows_counted = rows;
    }

    /// The file paused where the sink stands, its bytes not yet in a part carried in the job
    /// (none when nothing is pending: the CSV's copy of this loop used to record an empty carry,
    /// which resumes the same).
    pub(super) fn pause(&mut self) -> Progress {
        self.count_rows();
        self.sink.mark(self.checkpoint);
        let rest = self.take_pending();
        if !rest.is_empty() {
            self.checkpoint.carry = Some(STANDARD.encode(rest));
        }
        Progress::Paused(self.checkpoint.clone())
    }
}

impl<J, E: EntrySource, B: ExportUpload, L, C: Clock> ExportWorker<J, E, B, L, C> {
    /// Whether the invocation should stop and save its checkpoint: its deadline is within the
    /// reserve.
    pub(super) fn near(&self, deadline: Timestamp) -> bool {
        let reserve =
            SignedDuration::try_from(self.settings.reserve).unwrap_or(SignedDuration::MAX);
        deadline.duration_since(self.clock.now()) < reserve
    }

    /// After the sink wrote: uploads what is pending as the next part once it fills one, and
    /// then says whether the invocation should pause there (its deadline is near). `written`
    /// is the entry just written, where a resume continues after; `None` where the position
    /// is the sink's own ([`Sink::mark`]).
    pub(super) async fn pause_after_part<S: Sink>(
        &self,
        stream: &mut Stream<'_, S>,
        written: Option<&LogEntry>,
    ) -> Result<bool, Failure> {
        let part_bytes = self.settings.part_bytes.max(B::MIN_PART_BYTES);
        if stream.pending() < part_bytes {
            return Ok(false);
        }
        let bytes = stream.take_pending();
        self.upload(stream.key, stream.checkpoint, bytes).await?;
        stream.count_rows();
        if let Some(entry) = written {
            stream.checkpoint.after = Some(entry.sort_key());
        }
        Ok(self.near(stream.deadline))
    }

    /// Whether time is running out before a part filled (a selective export), with few enough
    /// bytes pending to carry them in the job and pause here.
    pub(super) fn pause_before_part<S: Sink>(&self, stream: &Stream<'_, S>) -> bool {
        self.near(stream.deadline) && stream.pending() <= MAX_CARRY
    }

    /// Writes the entries `filter` selects, read as of `now`, from where the checkpoint stands;
    /// the pause if the invocation paused, `None` once every entry is written. The next page is
    /// read while one is written ([`super::read_ahead`]); a failed read counts only once the
    /// loop gets to that page, so a file pauses and fails where it did without reading ahead.
    pub(super) async fn stream_entries<S: Sink>(
        &self,
        account: &AccountId,
        stream: &mut Stream<'_, S>,
        filter: &LogFilter,
        now: Timestamp,
    ) -> Result<Option<Progress>, Failure> {
        let size = self.settings.page_size;
        let after = stream.checkpoint.after.clone();
        let mut page = self
            .events
            .page(account, filter, after.as_deref(), size, now)
            .await?;
        loop {
            let entries = std::mem::take(&mut page.entries);
            let next = page.resume_after.take();
            let ahead = async {
                match next.as_deref() {
                    Some(after) => Some(
                        self.events
                            .page(account, filter, Some(after), size, now)
                            .await,
                    ),
                    None => None,
                }
            };
            let mut ahead = pin!(maybe_done(ahead));
            let state = Ahead::default();
            if alongside(
                ahead.as_mut(),
                &state,
                self.write_page(stream, entries, &state),
            )
            .await?
            {
                return Ok(Some(stream.pause()));
            }
            if next.is_none() {
                return Ok(None);
            }
            if self.pause_before_part(stream) {
                // The next invocation continues after this page (the page read ahead is dropped).
                stream.checkpoint.after = next.clone();
                return Ok(Some(stream.pause()));
            }
            ahead.as_mut().await;
            match ahead.as_mut().take_output() {
                Some(Some(read)) => page = read?,
                _ => unreachable!("a page follows when `resume_after` is set"),
            }
        }
    }

    /// Writes one page's entries, parsing each as it goes; whether the invocation should pause
    /// after the last one written. While the page read ahead waits, yields to the runtime every
    /// [`ENTRIES_PER_TURN`] entries (the first time before any, so its request goes out).
    async fn write_page<S: Sink>(
        &self,
        stream: &mut Stream<'_, S>,
        entries: Vec<E::Unparsed>,
        ahead: &Ahead,
    ) -> Result<bool, Failure> {
        for (n, unparsed) in entries.into_iter().enumerate() {
            if n % ENTRIES_PER_TURN == 0 && ahead.waiting() {
                tokio::task::yield_now().await;
            }
            let entry = self.events.parse(unparsed)?;
            if stream.sink.write(&entry)? && self.pause_after_part(stream, Some(&entry)).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ends the file: its last part (the only part of a small file, even an empty one) and the
    /// upload's completion.
    pub(super) async fn finish<S: Sink>(
        &self,
        mut stream: Stream<'_, S>,
    ) -> Result<ExportResult, Failure> {
        stream.sink.finish();
        let rest = stream.take_pending();
        if !rest.is_empty() || stream.checkpoint.parts.is_empty() {
            self.upload(stream.key, stream.checkpoint, rest).await?;
        }
        stream.count_rows();
        self.bucket
            .complete(
                stream.key,
                &stream.checkpoint.upload_id,
                &stream.checkpoint.parts,
            )
            .await?;
        Ok(ExportResult {
            object_key: stream.key.to_owned(),
            row_count: stream.checkpoint.rows,
            size_bytes: stream.checkpoint.bytes,
            evidence_key: None,
        })
    }

    /// Uploads `bytes` as the checkpoint's next part.
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
