//! Checking an export against its evidence, offline: the signed checkpoint, the log's leaf
//! hashes, each CSV row against the entry it renders (with the service's own CSV code), and that
//! no other leaf of the log matches the export's filters. The evidence is read as a stream (one
//! leaf at a time), the CSV alongside it; memory is the leaf hashes (32 bytes per leaf).

use std::fmt;
use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use thiserror::Error;

use super::{FORMAT, VERSION};
use crate::domain::export::ExportFilters;
use crate::domain::{Json, LogEntry};
use crate::export::csv::{COLUMNS, CsvEncoder, CsvStart};
use crate::integrity::canonical::{LeafData, canonical_entry, canonical_json};
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
        key,
        pinned,
        csv,
        record: ::csv::StringRecord::new(),
        failure: None,
        checkpoint: None,
        filters: None,
        size: None,
        hashes: Vec::new(),
        seen: Vec::new(),
        rows: 0,
        previous_key: None,
        encoder: None,
    };
    let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::new(evidence));
    let parsed = (&mut check)
        .deserialize(&mut reader)
        .and_then(|()| reader.end());
    if let Some(failure) = check.failure.take() {
        return Err(failure);
    }
    parsed.map_err(|e| VerifyError::Malformed(e.to_string()))?;
    check.finish()
}

struct Check<'k, R> {
    key: &'k VerifierKey,
    pinned: Option<Checkpoint>,
    csv: ::csv::Reader<R>,
    record: ::csv::StringRecord,
    /// The first failure; parsing stops at it.
    failure: Option<VerifyError>,
    checkpoint: Option<Checkpoint>,
    filters: Option<ExportFilters>,
    size: Option<u64>,
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

impl<R: Read> Check<'_, R> {
    /// Records a failure and gives the parser an error to stop with.
    fn fail<E: de::Error>(&mut self, failure: VerifyError) -> E {
        let message = failure.to_string();
        self.failure.get_or_insert(failure);
        E::custom(message)
    }

    fn hashes_done(&mut self) -> Result<(), VerifyError> {
        let (checkpoint, size) = match (&self.checkpoint, self.size) {
            (Some(c), Some(s)) => (c, s),
            _ => {
                return Err(VerifyError::Malformed(
                    "leaf_hashes before checkpoint and size".into(),
                ));
            }
        };
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
                let canonical = Json::parse(raw.get())
                    .map(|json| canonical_json(&json))
                    .map_err(|e| leaf_error(format!("entry is not JSON: {e}")))?;
                let entry: LogEntry = serde_json::from_str(raw.get())
                    .map_err(|e| leaf_error(format!("entry is not a stored entry: {e}")))?;
                if canonical_entry(&entry).ok().as_deref() != Some(canonical.as_str()) {
                    return Err(leaf_error(
                        "entry has members a stored entry does not".into(),
                    ));
                }
                let leaf = LeafData::of(&entry).map_err(|e| leaf_error(e.to_string()))?;
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
                if filters
                    .filter
                    .admits(&leaf.event_type, occurred_at, &leaf.actor_id)
                {
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

    /// The next CSV row must be `entry` rendered as the service renders it, cell by cell.
    fn compare_row(&mut self, row: u64, index: u64, entry: &LogEntry) -> Result<(), VerifyError> {
        let filters = self.filters.as_ref().expect("export read before leaves");
        let encoder = self
            .encoder
            .get_or_insert_with(|| CsvEncoder::new(filters.zone(), CsvStart::Resumed));
        encoder.row(entry);
        let rendered = encoder.take();
        let mut expected = ::csv::StringRecord::new();
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(rendered.as_slice())
            .read_record(&mut expected)
            .map_err(|e| VerifyError::Csv(e.to_string()))?;
        let found = self
            .csv
            .read_record(&mut self.record)
            .map_err(|e| VerifyError::Csv(format!("row {row}: {e}")))?;
        if !found {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "is missing: the CSV ends, the evidence has log leaf {index} next"
                ),
            });
        }
        if self.record.len() != expected.len() {
            return Err(VerifyError::Row {
                row,
                problem: format!(
                    "has {} cells, an export row has {}",
                    self.record.len(),
                    expected.len()
                ),
            });
        }
        for ((column, got), want) in COLUMNS.iter().zip(self.record.iter()).zip(expected.iter()) {
            if got != want {
                return Err(VerifyError::Row {
                    row,
                    problem: format!(
                        "cell {column:?} is {got:?}, but log leaf {index} says {want:?} (edited, or rows deleted, added or reordered)"
                    ),
                });
            }
        }
        Ok(())
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
            .read_record(&mut self.record)
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

impl<'de, R: Read> DeserializeSeed<'de> for &mut Check<'_, R> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

const MEMBERS: [&str; 7] = [
    "format",
    "version",
    "checkpoint",
    "export",
    "size",
    "leaf_hashes",
    "leaves",
];

impl<'de, R: Read> Visitor<'de> for &mut Check<'_, R> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an export evidence object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        for expected in MEMBERS {
            let name: String = map
                .next_key()?
                .ok_or_else(|| de::Error::custom(format!("member {expected:?} is missing")))?;
            if name != expected {
                return Err(de::Error::custom(format!(
                    "member {expected:?} expected, found {name:?} (members come in a fixed order)"
                )));
            }
            match expected {
                "format" => {
                    if map.next_value::<String>()? != FORMAT {
                        return Err(de::Error::custom("not a security-logs evidence file"));
                    }
                }
                "version" => {
                    let version: u32 = map.next_value()?;
                    if version != VERSION {
                        return Err(de::Error::custom(format!(
                            "version {version} is not supported"
                        )));
                    }
                }
                "checkpoint" => {
                    let note: String = map.next_value()?;
                    match verify_checkpoint(&note, self.key) {
                        Ok(checkpoint) => self.checkpoint = Some(checkpoint),
                        Err(e) => return Err(self.fail(VerifyError::Checkpoint(e.to_string()))),
                    }
                }
                "export" => self.filters = Some(map.next_value::<ExportMember>()?.filters),
                "size" => {
                    let size: u64 = map.next_value()?;
                    if self.checkpoint.as_ref().map(|c| c.size) != Some(size) {
                        return Err(self.fail(VerifyError::Malformed(format!(
                            "size {size} is not the checkpoint's"
                        ))));
                    }
                    self.size = Some(size);
                }
                "leaf_hashes" => {
                    map.next_value_seed(Hashes(&mut *self))?;
                    if let Err(e) = self.hashes_done() {
                        return Err(self.fail(e));
                    }
                }
                _ => map.next_value_seed(Leaves(&mut *self))?,
            }
        }
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("members after `leaves`"));
        }
        Ok(())
    }
}

/// `leaf_hashes`: base64 strings of whole 32-byte hashes.
struct Hashes<'c, 'k, R>(&'c mut Check<'k, R>);

impl<'de, R: Read> DeserializeSeed<'de> for Hashes<'_, '_, R> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, R: Read> Visitor<'de> for Hashes<'_, '_, R> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of base64 leaf hashes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let size = self.0.size.unwrap_or(0);
        while let Some(text) = seq.next_element::<String>()? {
            let bytes = STANDARD
                .decode(text)
                .map_err(|e| de::Error::custom(format!("leaf hashes: {e}")))?;
            if !bytes.len().is_multiple_of(32)
                || (self.0.hashes.len() + bytes.len() / 32) as u64 > size
            {
                return Err(de::Error::custom(
                    "leaf hashes do not add up to the log's size",
                ));
            }
            self.0.hashes.extend(
                bytes
                    .chunks_exact(32)
                    .map(|c| <Hash>::try_from(c).expect("32 bytes")),
            );
        }
        Ok(())
    }
}

/// `leaves`, checked one at a time as they are read.
struct Leaves<'c, 'k, R>(&'c mut Check<'k, R>);

impl<'de, R: Read> DeserializeSeed<'de> for Leaves<'_, '_, R> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, R: Read> Visitor<'de> for Leaves<'_, '_, R> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of leaves")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Item>()? {
            if let Err(failure) = self.0.leaf(item) {
                return Err(self.0.fail(failure));
            }
        }
        Ok(())
    }
}
