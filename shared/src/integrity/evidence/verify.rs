//! Checking an export against its evidence, offline, believing only what is signed: the
//! checkpoint (by the platform's key, for the account being audited), and through its root every
//! leaf, the export's own entry (its request: id, requester, filters, retention) and each row.
//! Nothing in the file's header is taken on trust: its sizes and indices are checked against the
//! signed tree, and the export's filters come from its signed entry alone.
//!
//! The evidence is read a line at a time (one item per line), the CSV alongside its `rows`;
//! memory is the leaf hashes (32 bytes per leaf) and one bit per leaf.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

use super::{ExportScope, FORMAT, Place, VERSION};
use crate::csv::{COLUMNS, CsvEncoder, CsvStart, RowWriter};
use crate::domain::export::ExportRequest;
use crate::domain::{AccountId, LogEntry};
use crate::integrity::canonical::LeafData;
use crate::integrity::keys::fingerprint;
use crate::integrity::merkle::{Hash, root};
use crate::integrity::note::{Checkpoint, NoteError, VerifierKey, origin, verify_checkpoint};

/// A leaf that matched the export's filters but whose entry had expired before the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub index: u64,
    pub event_type: String,
    pub occurred_at: String,
    pub actor_id: String,
}

/// What a successful check established, all of it from signed data.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub account: AccountId,
    /// The platform key that signed the checkpoint (an auditor compares its fingerprint with
    /// the published one).
    pub public_key: [u8; 32],
    /// The export's request, from its own entry in the log.
    pub request: ExportRequest,
    /// The log index of that entry.
    pub request_index: u64,
    /// The checkpoint's tree size.
    pub size: u64,
    /// CSV rows, each an unchanged entry of the log.
    pub rows: u64,
    /// Entries recorded before the request that match its filters but had expired.
    pub expired: Vec<Expired>,
    /// The size of the pinned checkpoint that the evidence's checkpoint extends.
    pub pinned: Option<u64>,
}

impl fmt::Display for Verified {
    /// One line saying what was proved, then one line per expired matching entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = &self.request;
        let by = &request.requested_by;
        let filters = serde_json::to_string(&request.filters.view()).map_err(|_| fmt::Error)?;
        write!(
            f,
            "OK: account {} (key fingerprint {}): export {} requested {} by {}",
            self.account,
            fingerprint(&self.public_key),
            request.id.as_str(),
            request.requested_at,
            by.id
        )?;
        if let Some(email) = &by.email {
            write!(f, " <{email}>")?;
        }
        write!(
            f,
            ", filters {filters}, retention {} days; checkpoint size {} (the request is entry {}); {} rows, each an unchanged entry of the log, in order, and no entry recorded before the request that matches the filters is missing",
            request.retention_days, self.size, self.request_index, self.rows
        )?;
        match self.expired.len() {
            0 => write!(f, "; no matching entry had expired")?,
            n => write!(
                f,
                "; {n} matching entries had expired before the request (occurred before {}): listed below",
                request.reach_start()
            )?,
        }
        if let Some(pinned) = self.pinned {
            write!(f, "; extends the pinned checkpoint of size {pinned}")?;
        }
        for e in &self.expired {
            write!(
                f,
                "\nexpired: log entry {}, {} at {} by {}",
                e.index, e.event_type, e.occurred_at, e.actor_id
            )?;
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
    #[error(
        "evidence format version {0} is refused: it does not bind the export's filters to its signed request (request the export again for a version {VERSION} file)"
    )]
    Version(u32),
    #[error("the export's entry (log entry {index}): {problem}")]
    Request { index: u64, problem: String },
    #[error("the evidence's leaves do not hash to its checkpoint's root")]
    RootMismatch,
    /// `row` counts data rows from 1 (the header is line 1 of the file, row 1 is line 2).
    #[error("CSV row {row}: {problem}")]
    Row { row: u64, problem: String },
    #[error("log entry {index}: {problem}")]
    Leaf { index: u64, problem: String },
    #[error("the CSV is unreadable: {0}")]
    Csv(String),
}

/// Checks `csv` (an export) against `evidence` for `account`, with the platform's public keys
/// (any that ever signed: the one that signed this checkpoint is used); with `pinned` (a
/// checkpoint note saved earlier), also that the evidence's log extends that one.
pub fn verify(
    csv: impl Read,
    evidence: impl Read,
    account: &AccountId,
    public_keys: &[[u8; 32]],
    pinned: Option<&str>,
) -> Result<Verified, VerifyError> {
    let name = origin(account);
    let keys = public_keys
        .iter()
        .map(|key| VerifierKey::new(&name, key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    let signed = |note: &str| -> Result<(Checkpoint, [u8; 32]), String> {
        let mut last = NoteError::NoKnownSignature;
        for key in &keys {
            match verify_checkpoint(note, key) {
                Ok(checkpoint) => return Ok((checkpoint, key.public_key())),
                Err(e) => last = e,
            }
        }
        Err(match last {
            NoteError::NoKnownSignature => format!(
                "not signed for account {account} by the given key{}",
                if keys.len() == 1 { "" } else { "s" }
            ),
            other => other.to_string(),
        })
    };
    let pinned = pinned
        .map(|note| signed(note).map(|(c, _)| c).map_err(VerifyError::Pinned))
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
    let mut lines = Lines {
        reader: BufReader::new(evidence),
        line: String::new(),
        number: 0,
    };

    // The header: every member but the two arrays, on the first line.
    let first = lines
        .next()?
        .ok_or_else(|| VerifyError::Malformed("the file is empty".into()))?;
    let head = version_checked(first)?;
    let header: Header = serde_json::from_str(&format!("{head}}}"))
        .map_err(|e| VerifyError::Malformed(format!("line 1: {e}")))?;
    let (checkpoint, public_key) = signed(&header.checkpoint).map_err(VerifyError::Checkpoint)?;
    if checkpoint.size != header.size {
        return Err(VerifyError::Malformed(format!(
            "size {} is not the checkpoint's ({})",
            header.size, checkpoint.size
        )));
    }
    let size = checkpoint.size;
    let index = header.export.index;
    let request_error = |problem: String| VerifyError::Request { index, problem };
    if index >= size {
        return Err(request_error(format!(
            "is not in the checkpoint (size {size}): the checkpoint is older than the export"
        )));
    }
    let (request_entry, request_hash) = read_entry(header.export.entry.get())
        .map_err(|e| request_error(format!("is not a stored entry: {e}")))?;
    let request = ExportRequest::from_entry(&request_entry).map_err(request_error)?;
    let scope = ExportScope::new(
        &request.filters,
        index,
        request.requested_at,
        request.retention_days,
    );
    let mut check = Check {
        csv,
        bytes: ::csv::ByteRecord::new(),
        rows_out: RowWriter::default(),
        encoder: CsvEncoder::new(request.filters.zone(), CsvStart::Resumed),
        scope,
        hashes: Vec::with_capacity(size.min(1 << 24) as usize),
        awaiting_row: Vec::new(),
        rows: 0,
        previous_key: None,
        expired: Vec::new(),
    };

    // `leaves`: one item per index, in order.
    let mut first_item = true;
    loop {
        let number = lines.number + 1;
        let line = lines.next()?.ok_or_else(|| truncated(number))?;
        if line == ROWS_OPEN {
            break;
        }
        let k = check.hashes.len() as u64;
        if k >= size {
            return Err(VerifyError::Malformed(format!(
                "line {number}: more leaves than the checkpoint's size {size}"
            )));
        }
        let data: Option<String> = serde_json::from_str(item(line, &mut first_item, number)?)
            .map_err(|e| VerifyError::Malformed(format!("line {number}: {e}")))?;
        match data {
            None if k == index => {
                check.hashes.push(request_hash);
                check.awaiting_row.push(false);
            }
            None => {
                check.hashes.push(Hash::default());
                check.awaiting_row.push(true);
            }
            Some(_) if k == index => {
                return Err(request_error(
                    "has leaf data in `leaves`: it is given in full in `export`".into(),
                ));
            }
            Some(text) => check.leaf(k, &text)?,
        }
    }
    if check.hashes.len() as u64 != size {
        return Err(VerifyError::Malformed(format!(
            "{} leaves for a checkpoint of size {size}: every index must appear",
            check.hashes.len()
        )));
    }

    // `rows`: the CSV's entries, in its order, checked as they are read.
    let mut first_item = true;
    loop {
        let number = lines.number + 1;
        let line = lines.next()?.ok_or_else(|| truncated(number))?;
        if line == CLOSE {
            break;
        }
        let row: Row = serde_json::from_str(item(line, &mut first_item, number)?)
            .map_err(|e| VerifyError::Malformed(format!("line {number}: {e}")))?;
        check.row(row)?;
    }
    if lines.next()?.is_some() {
        return Err(VerifyError::Malformed(
            "lines after the end of the object".into(),
        ));
    }
    check.finish(&checkpoint)?;
    if let Some(pinned) = &pinned {
        check_pinned(pinned, &check.hashes)?;
    }
    Ok(Verified {
        account: account.clone(),
        public_key,
        request,
        request_index: index,
        size,
        rows: check.rows,
        expired: check.expired,
        pinned: pinned.map(|p| p.size),
    })
}

const LEAVES_OPEN: &str = r#","leaves":["#;
const ROWS_OPEN: &str = r#"],"rows":["#;
const CLOSE: &str = "]}";

/// The header's text without its `leaves` opening, once its format and version are ours.
fn version_checked(first: &str) -> Result<&str, VerifyError> {
    #[derive(Deserialize)]
    struct Probe {
        format: String,
        version: u32,
    }
    // A version 1 file opens `leaf_hashes` on its first line instead.
    let head = first
        .strip_suffix(LEAVES_OPEN)
        .or_else(|| first.strip_suffix(r#","leaf_hashes":["#))
        .ok_or_else(|| VerifyError::Malformed("line 1 is not an evidence header".into()))?;
    let probe: Probe = serde_json::from_str(&format!("{head}}}"))
        .map_err(|e| VerifyError::Malformed(format!("line 1: {e}")))?;
    if probe.format != FORMAT {
        return Err(VerifyError::Malformed(format!("not a {FORMAT} file")));
    }
    if probe.version != VERSION {
        return Err(VerifyError::Version(probe.version));
    }
    first
        .strip_suffix(LEAVES_OPEN)
        .ok_or_else(|| VerifyError::Malformed("line 1 does not open `leaves`".into()))
}

/// A full entry as evidence gives it: parsed, and its leaf hash. The text is hashed as given:
/// a leaf hash equal to the log's proves it is exactly the stored entry's canonical JSON (any
/// other spelling, member or value would hash differently), so it needs no canonicalizing here.
fn read_entry(canonical: &str) -> Result<(LogEntry, Hash), String> {
    let entry: LogEntry = serde_json::from_str(canonical).map_err(|e| e.to_string())?;
    let hash = LeafData::of_canonical(&entry, canonical).leaf_hash();
    Ok((entry, hash))
}

fn check_pinned(pinned: &Checkpoint, hashes: &[Hash]) -> Result<(), VerifyError> {
    let size = hashes.len() as u64;
    if pinned.size > size || root(&hashes[..pinned.size as usize]) != pinned.root {
        return Err(VerifyError::Pinned(format!(
            "the evidence's log (size {size}) does not extend it (size {}): entries were changed or removed since",
            pinned.size
        )));
    }
    Ok(())
}

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
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u32,
    checkpoint: String,
    size: u64,
    export: ExportMember,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportMember {
    index: u64,
    entry: Box<RawValue>,
}

/// One member of `rows`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    index: u64,
    entry: Box<RawValue>,
}

struct Check<R> {
    csv: ::csv::Reader<R>,
    bytes: ::csv::ByteRecord,
    rows_out: RowWriter,
    encoder: CsvEncoder,
    scope: ExportScope,
    /// Every leaf's hash by index; a row's is filled in when its row is read.
    hashes: Vec<Hash>,
    /// Indices given as `null` in `leaves` whose row has not been read yet.
    awaiting_row: Vec<bool>,
    rows: u64,
    /// The sort key of the previous row: rows are newest first, strictly.
    previous_key: Option<String>,
    expired: Vec<Expired>,
}

impl<R: Read> Check<R> {
    /// Leaf data at index `k`: its hash, and it must not be a row the CSV lacks.
    fn leaf(&mut self, k: u64, text: &str) -> Result<(), VerifyError> {
        let leaf_error = |problem: String| VerifyError::Leaf { index: k, problem };
        let leaf = LeafData::parse(text.as_bytes()).map_err(|e| leaf_error(e.to_string()))?;
        let place = self
            .scope
            .place_of_leaf(k, &leaf)
            .ok_or_else(|| leaf_error("its occurred_at is not a timestamp".into()))?;
        match place {
            Place::Row => {
                return Err(leaf_error(format!(
                    "its entry ({} at {} by {}) was recorded before the export's request and matches its filters, but is not in the CSV: a row is missing",
                    leaf.event_type, leaf.occurred_at, leaf.actor_id
                )));
            }
            Place::Expired => self.expired.push(Expired {
                index: k,
                event_type: leaf.event_type.clone(),
                occurred_at: leaf.occurred_at.clone(),
                actor_id: leaf.actor_id.clone(),
            }),
            Place::Outside => {}
        }
        self.hashes.push(leaf.leaf_hash());
        self.awaiting_row.push(false);
        Ok(())
    }

    fn row(&mut self, item: Row) -> Result<(), VerifyError> {
        let index = item.index;
        self.rows += 1;
        let row = self.rows;
        let awaiting = usize::try_from(index)
            .ok()
            .and_then(|k| self.awaiting_row.get_mut(k));
        match awaiting {
            Some(awaiting) if *awaiting => *awaiting = false,
            _ => {
                return Err(VerifyError::Row {
                    row,
                    problem: format!(
                        "its entry claims log index {index}, which `leaves` does not leave for a row (beyond the checkpoint, given as leaf data, the export's own entry, or a second time)"
                    ),
                });
            }
        }
        let (entry, hash) = read_entry(item.entry.get()).map_err(|e| VerifyError::Row {
            row,
            problem: format!("its entry (log entry {index}) is not a stored entry: {e}"),
        })?;
        self.hashes[index as usize] = hash;
        if self.scope.place_of_entry(index, &entry) != Place::Row {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "its entry (log entry {index}) is not one the export holds: it does not match the filters, was recorded after the request, or had expired"
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

    /// The next CSV row must be `entry` rendered as the service renders it: compared as bytes,
    /// then cell by cell to name a difference.
    fn compare_row(&mut self, row: u64, index: u64, entry: &LogEntry) -> Result<(), VerifyError> {
        self.encoder.row(entry);
        let rendered = self.encoder.take();
        let found = self
            .csv
            .read_byte_record(&mut self.bytes)
            .map_err(|e| VerifyError::Csv(format!("row {row}: {e}")))?;
        if !found {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "is missing: the CSV ends, the evidence has log entry {index} next"
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
                        "cell {column:?} is {got:?}, but log entry {index} says {want:?} (edited, or rows deleted, added or reordered)"
                    ),
                });
            }
        }
        Err(VerifyError::Row {
            row,
            problem: format!("is not written as the service writes log entry {index}"),
        })
    }

    /// Every index accounted for, no CSV row left over, and the leaves are the signed tree.
    fn finish(&mut self, checkpoint: &Checkpoint) -> Result<(), VerifyError> {
        if let Some(k) = self.awaiting_row.iter().position(|&a| a) {
            return Err(VerifyError::Leaf {
                index: k as u64,
                problem: "is neither leaf data nor a row: an entry of the log is unaccounted for"
                    .into(),
            });
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
        if root(&self.hashes) != checkpoint.root {
            return Err(VerifyError::RootMismatch);
        }
        Ok(())
    }
}
