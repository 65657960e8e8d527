//! Checking an export against its evidence, offline: the signed checkpoint, the log's leaf
//! hashes, each CSV row against the entry it renders (with the service's own CSV code), and that
//! no other leaf of the log matches the export's filters. The evidence is read a line at a time
//! (one leaf per line), the CSV alongside it; memory is the leaf hashes (32 bytes per leaf).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

use super::{FORMAT, VERSION};
use crate::domain::LogEntry;
use crate::domain::export::ExportFilters;
use crate::export::csv::{COLUMNS, CsvEncoder, CsvStart, RowWriter};
use crate::integrity::canonical::LeafData;
use crate::integrity::merkle::{Hash, root};
use crate::integrity::note::{Checkpoint, VerifierKey, verify_checkpoint};

/// What a successful check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// CSV rows, each an unchanged entry of the log.
    pub rows: u64,
    /// The checkpoint's tree size and origin.
    pub size: u64,
    pub origin: String,
    /// Leaves of the log whose entry had expired before the export (only their hash is kept):
    /// whether they matched the filters cannot be checked.
    pub expired: u64,
    /// The size of the pinned checkpoint that the evidence's checkpoint extends.
    pub pinned: Option<u64>,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OK: {} rows, each an unchanged entry of {} at size {}, and no entry of the log matching the export's filters is missing",
            self.rows, self.origin, self.size
        )?;
        if self.expired > 0 {
            write!(
                f,
                "; {} leaves had expired before the export (their entries could not be checked against the filters)",
                self.expired
            )?;
        }
        if let Some(pinned) = self.pinned {
            write!(f, "; extends the pinned checkpoint of size {pinned}")?;
        }
        Ok(())
    }
}

/// The first thing that does not hold.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the evidence's checkpoint: {0}")]
    Checkpoint(String),
    #[error("the pinned checkpoint: {0}")]
    Pinned(String),
    #[error("the evidence is malformed: {0}")]
    Malformed(String),
    #[error("the evidence's leaf hashes do not match its checkpoint's root")]
    RootMismatch,
    /// `row` counts data rows from 1 (the header is line 1 of the file, row 1 is line 2).
    #[error("CSV row {row}: {problem}")]
    Row { row: u64, problem: String },
    #[error("log leaf {index}: {problem}")]
    Leaf { index: u64, problem: String },
    #[error("the CSV is unreadable: {0}")]
    Csv(String),
}

/// Checks `csv` (an export) against `evidence` with the account's verifier key; with `pinned`
/// (a checkpoint note saved earlier), also that the evidence's log extends that one.
pub fn verify(
    csv: impl Read,
    evidence: impl Read,
    key: &VerifierKey,
    pinned: Option<&str>,
) -> Result<Verified, VerifyError> {
    let pinned = pinned
        .map(|note| verify_checkpoint(note, key).map_err(|e| VerifyError::Pinned(e.to_string())))
        .transpose()?;
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv);
    let mut header = ::csv::StringRecord::new();
    let read = csv
        .read_record(&mut header)
        .map_err(|e| VerifyError::Csv(e.to_string()))?;
    if !read || header.iter().ne(COLUMNS) {
        return Err(VerifyError::Csv(format!(
            "the header row is not the export's ({})",
            COLUMNS.join(", ")
        )));
    }
    let mut check = Check {
        pinned,
        csv,
        bytes: ::csv::ByteRecord::new(),
        rows_out: RowWriter::default(),
        checkpoint: None,
        filters: None,
        hashes: Vec::new(),
        seen: Vec::new(),
        rows: 0,
        previous_key: None,
        encoder: None,
    };
    let mut lines = Lines {
        reader: BufReader::new(evidence),
        line: String::new(),
        number: 0,
    };

    // The header: every member but the two arrays, on the first line.
    let first = lines
        .next()?
        .ok_or_else(|| VerifyError::Malformed("the file is empty".into()))?;
    let head = first
        .strip_suffix(HASHES_OPEN)
        .ok_or_else(|| VerifyError::Malformed("line 1 is not an evidence header".into()))?;
    let header: Header = serde_json::from_str(&format!("{head}}}"))
        .map_err(|e| VerifyError::Malformed(format!("line 1: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(VerifyError::Malformed(format!(
            "not a {FORMAT} file of version {VERSION}"
        )));
    }
    let checkpoint = verify_checkpoint(&header.checkpoint, key)
        .map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    if checkpoint.size != header.size {
        return Err(VerifyError::Malformed(format!(
            "size {} is not the checkpoint's",
            header.size
        )));
    }
    check.checkpoint = Some(checkpoint);
    check.filters = Some(header.export.filters);

    // The leaf hashes, a line of up to 256 at a time.
    let mut first_item = true;
    loop {
        let number = lines.number + 1;
        let line = lines.next()?.ok_or_else(|| truncated(number))?;
        if line == LEAVES_OPEN {
            break;
        }
        let text: String = serde_json::from_str(item(line, &mut first_item, number)?)
            .map_err(|e| VerifyError::Malformed(format!("line {number}: {e}")))?;
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| VerifyError::Malformed(format!("line {number}: {e}")))?;
        if !bytes.len().is_multiple_of(32)
            || (check.hashes.len() + bytes.len() / 32) as u64 > header.size
        {
            return Err(VerifyError::Malformed(format!(
                "line {number}: leaf hashes do not add up to the log's size"
            )));
        }
        check.hashes.extend(
            bytes
                .chunks_exact(32)
                .map(|c| <Hash>::try_from(c).expect("32 bytes")),
        );
    }
    check.hashes_done(header.size)?;

    // The leaves, one per line, checked as they are read.
    let mut first_item = true;
    loop {
        let number = lines.number + 1;
        let line = lines.next()?.ok_or_else(|| truncated(number))?;
        if line == CLOSE {
            break;
        }
        let leaf: Item = serde_json::from_str(item(line, &mut first_item, number)?)
            .map_err(|e| VerifyError::Malformed(format!("line {number}: {e}")))?;
        check.leaf(leaf)?;
    }
    if lines.next()?.is_some() {
        return Err(VerifyError::Malformed(
            "lines after the end of the object".into(),
        ));
    }
    check.finish()
}

const HASHES_OPEN: &str = r#","leaf_hashes":["#;
const LEAVES_OPEN: &str = r#"],"leaves":["#;
const CLOSE: &str = "]}";

fn truncated(number: u64) -> VerifyError {
    VerifyError::Malformed(format!("the file ends at line {number}, before its end"))
}

/// An array item's text: the first without a comma, every later one after a leading comma.
fn item<'l>(line: &'l str, first: &mut bool, number: u64) -> Result<&'l str, VerifyError> {
    let text = if *first {
        Some(line)
    } else {
        line.strip_prefix(',')
    };
    *first = false;
    text.ok_or_else(|| VerifyError::Malformed(format!("line {number}: a comma must start it")))
}

/// The evidence file's lines, without their newline.
struct Lines<R> {
    reader: BufReader<R>,
    line: String,
    number: u64,
}

impl<R: Read> Lines<R> {
    /// The next line, borrowed from the reader's buffer (no copy per line).
    fn next(&mut self) -> Result<Option<&str>, VerifyError> {
        self.line.clear();
        let read = self
            .reader
            .read_line(&mut self.line)
            .map_err(|e| VerifyError::Malformed(format!("line {}: {e}", self.number + 1)))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(self.line.strip_suffix('\n').unwrap_or(&self.line)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    checkpoint: String,
    export: ExportMember,
    size: u64,
}

struct Check<R> {
    pinned: Option<Checkpoint>,
    csv: ::csv::Reader<R>,
    bytes: ::csv::ByteRecord,
    rows_out: RowWriter,
    checkpoint: Option<Checkpoint>,
    filters: Option<ExportFilters>,
    hashes: Vec<Hash>,
    seen: Vec<bool>,
    rows: u64,
    /// The sort key of the previous exported entry: rows are newest first, strictly.
    previous_key: Option<String>,
    encoder: Option<CsvEncoder>,
}

/// One member of `leaves`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    index: u64,
    #[serde(default)]
    entry: Option<Box<RawValue>>,
    #[serde(default)]
    leaf: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportMember {
    #[allow(dead_code)]
    id: String,
    filters: ExportFilters,
}

impl<R: Read> Check<R> {
    fn hashes_done(&mut self, size: u64) -> Result<(), VerifyError> {
        let checkpoint = self.checkpoint.as_ref().expect("header read first");
        if self.hashes.len() as u64 != size {
            return Err(VerifyError::Malformed(format!(
                "{} leaf hashes for a log of size {size}",
                self.hashes.len()
            )));
        }
        if root(&self.hashes) != checkpoint.root {
            return Err(VerifyError::RootMismatch);
        }
        if let Some(pinned) = &self.pinned {
            if pinned.origin != checkpoint.origin {
                return Err(VerifyError::Pinned(format!(
                    "it is of {}, the evidence of {}",
                    pinned.origin, checkpoint.origin
                )));
            }
            if pinned.size > size || root(&self.hashes[..pinned.size as usize]) != pinned.root {
                return Err(VerifyError::Pinned(format!(
                    "the evidence's log (size {size}) does not extend it (size {}): entries were changed or removed since",
                    pinned.size
                )));
            }
        }
        self.seen = vec![false; self.hashes.len()];
        Ok(())
    }

    fn leaf(&mut self, item: Item) -> Result<(), VerifyError> {
        let index = item.index;
        let leaf_error = |problem: String| VerifyError::Leaf { index, problem };
        let Some(expected) = self.hashes.get(index as usize).copied() else {
            return Err(leaf_error("is beyond the checkpoint's size".into()));
        };
        if std::mem::replace(&mut self.seen[index as usize], true) {
            return Err(leaf_error("appears twice in the evidence".into()));
        }
        let filters = self.filters.as_ref().expect("export read before leaves");
        match (item.entry, item.leaf) {
            (Some(raw), None) => {
                // Entries are given in canonical form and hashed as given: a digest equal to the
                // log's proves the text is exactly the stored entry's canonical JSON (any other
                // spelling, member or value would hash differently), so `entry` is the stored
                // entry and needs no canonicalizing here.
                let canonical = raw.get();
                let entry: LogEntry = serde_json::from_str(canonical)
                    .map_err(|e| leaf_error(format!("entry is not a stored entry: {e}")))?;
                let leaf = LeafData::of_canonical(&entry, canonical);
                if leaf.leaf_hash() != expected {
                    return Err(leaf_error(
                        "the entry given for it is not the one in the log".into(),
                    ));
                }
                self.rows += 1;
                let row = self.rows;
                if !filters.filter.admits(
                    entry.event_type.as_str(),
                    entry.occurred_at,
                    &entry.actor.id,
                    entry.unfamiliar.is_some(),
                ) {
                    return Err(VerifyError::Row {
                        row,
                        problem: format!(
                            "its entry (log leaf {index}) does not match the export's filters"
                        ),
                    });
                }
                let key = entry.sort_key();
                if self.previous_key.as_ref().is_some_and(|p| *p <= key) {
                    return Err(VerifyError::Row {
                        row,
                        problem: "is out of order (rows are newest first)".into(),
                    });
                }
                self.previous_key = Some(key);
                self.compare_row(row, index, &entry)
            }
            (None, Some(data)) => {
                let leaf =
                    LeafData::parse(data.as_bytes()).map_err(|e| leaf_error(e.to_string()))?;
                if leaf.leaf_hash() != expected {
                    return Err(leaf_error("its leaf data is not the one in the log".into()));
                }
                let occurred_at = leaf
                    .occurred_at
                    .parse()
                    .map_err(|_| leaf_error("its occurred_at is not a timestamp".into()))?;
                if filters.filter.admits(
                    &leaf.event_type,
                    occurred_at,
                    &leaf.actor_id,
                    leaf.unfamiliar,
                ) {
                    return Err(leaf_error(format!(
                        "its entry ({} at {} by {}) matches the export's filters but is not in the CSV: a row is missing",
                        leaf.event_type, leaf.occurred_at, leaf.actor_id
                    )));
                }
                Ok(())
            }
            _ => Err(leaf_error("needs exactly one of `entry` and `leaf`".into())),
        }
    }

    /// The next CSV row must be `entry` rendered as the service renders it: compared as bytes,
    /// then cell by cell to name a difference.
    fn compare_row(&mut self, row: u64, index: u64, entry: &LogEntry) -> Result<(), VerifyError> {
        let filters = self.filters.as_ref().expect("export read before leaves");
        let encoder = self
            .encoder
            .get_or_insert_with(|| CsvEncoder::new(filters.zone(), CsvStart::Resumed));
        encoder.row(entry);
        let rendered = encoder.take();
        let found = self
            .csv
            .read_byte_record(&mut self.bytes)
            .map_err(|e| VerifyError::Csv(format!("row {row}: {e}")))?;
        if !found {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "is missing: the CSV ends, the evidence has log leaf {index} next"
                ),
            });
        }
        if self.rows_out.encode(&self.bytes) == rendered {
            return Ok(());
        }
        let got = ::csv::StringRecord::from_byte_record(self.bytes.clone())
            .map_err(|e| VerifyError::Csv(format!("row {row}: {e}")))?;
        let mut expected = ::csv::StringRecord::new();
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(rendered.as_slice())
            .read_record(&mut expected)
            .map_err(|e| VerifyError::Csv(e.to_string()))?;
        if got.len() != expected.len() {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "has {} cells, an export row has {}",
                    got.len(),
                    expected.len()
                ),
            });
        }
        for ((column, got), want) in COLUMNS.iter().zip(got.iter()).zip(expected.iter()) {
            if got != want {
                return Err(VerifyError::Row {
                    row,
                    problem: format!(
                        "cell {column:?} is {got:?}, but log leaf {index} says {want:?} (edited, or rows deleted, added or reordered)"
                    ),
                });
            }
        }
        Err(VerifyError::Row {
            row,
            problem: format!("is not written as the service writes log leaf {index}"),
        })
    }

    fn finish(mut self) -> Result<Verified, VerifyError> {
        let checkpoint = self
            .checkpoint
            .take()
            .ok_or_else(|| VerifyError::Malformed("no checkpoint".into()))?;
        if self.seen.len() as u64 != checkpoint.size {
            return Err(VerifyError::Malformed("no leaves".into()));
        }
        if self
            .csv
            .read_byte_record(&mut self.bytes)
            .map_err(|e| VerifyError::Csv(e.to_string()))?
        {
            return Err(VerifyError::Row {
                row: self.rows + 1,
                problem: "is not an entry of the log (the evidence has no more rows)".into(),
            });
        }
        Ok(Verified {
            rows: self.rows,
            size: checkpoint.size,
            origin: checkpoint.origin,
            expired: self.seen.iter().filter(|s| !**s).count() as u64,
            pinned: self.pinned.map(|p| p.size),
        })
    }
}
