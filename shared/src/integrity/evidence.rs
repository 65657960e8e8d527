//! Export evidence: the JSON file that lets an auditor prove, offline and from signed data only,
//! that an export's CSV is exactly the entries of the account's log that its request asked for,
//! each row unchanged (docs/design/integrity.md, "Export evidence", format version 2).
//!
//! The file is one JSON object, laid out in lines so that a verifier reads it one line at a time
//! (JSON strings never hold a raw newline):
//!
//! ```text
//! {"format":"security-logs-evidence","version":2,"checkpoint":"<note>","size":N,"export":{"index":i,"entry":{<canonical entry>}},"leaves":[
//! "<leaf data of index 0>"
//! ,null
//! ...
//! ],"rows":[
//! {"index":k,"entry":{<canonical entry>}}
//! ...
//! ]}
//! ```
//!
//! `export` is the export's own `security_logs.exported` entry (its request: id, requester,
//! filters, retention), which the checkpoint covers. `leaves` has one item per index of the
//! checkpoint's tree, in index order: the leaf data, or `null` where the index is given in full
//! (the export's entry, or a CSV row). `rows` are the CSV's rows as canonical entries, in the
//! CSV's order. So every index appears exactly once, and [`ExportScope`] decides from the signed
//! data which ones must be rows. [`EvidenceWriter`] writes the file in parts, in constant memory;
//! [`verify`] checks it with a CSV and the platform's key.

mod verify;

pub use verify::{Expired, Verified, VerifyError, verify};

use jiff::Timestamp;

use super::canonical::{CanonicalError, LeafData, canonical_entry};
use crate::domain::LogEntry;
use crate::domain::LogFilter;
use crate::domain::export::{ExportFilters, reach_start};
// Where a writer stands is part of an export job's stored resume point, which the domain owns.
pub use crate::domain::evidence_progress::{EvidenceState, Section};

pub const FORMAT: &str = "security-logs-evidence";
pub const VERSION: u32 = 2;

/// Where an entry of the log stands for an export: the one rule the worker writes by and the
/// verifier checks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Recorded before the request, matching the filters, within reach: a CSV row.
    Row,
    /// Recorded before the request and matching the filters, but it occurred before the export's
    /// reach (its retention had run out): listed by the verifier, not a row.
    Expired,
    /// Not matching the filters, or recorded after the request: leaf data only.
    Outside,
}

/// Which entries of the log an export holds: those recorded before its own entry (`index`) that
/// match its filters and occurred at or after `reach_start`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportScope {
    pub filter: LogFilter,
    /// The log index of the export's own entry.
    pub index: u64,
    pub reach_start: Timestamp,
}

impl ExportScope {
    pub fn new(
        filters: &ExportFilters,
        index: u64,
        requested_at: Timestamp,
        retention_days: u32,
    ) -> Self {
        Self {
            filter: filters.filter.clone(),
            index,
            reach_start: reach_start(requested_at, retention_days),
        }
    }

    /// Where the entry at `index` with these leaf fields stands.
    fn place(
        &self,
        index: u64,
        event_type: &str,
        occurred_at: Timestamp,
        actor_id: &str,
        unfamiliar: bool,
    ) -> Place {
        if index >= self.index
            || !self
                .filter
                .admits(event_type, occurred_at, actor_id, unfamiliar)
        {
            Place::Outside
        } else if occurred_at < self.reach_start {
            Place::Expired
        } else {
            Place::Row
        }
    }

    /// The list filter that reads the rows from storage (newest first): the export's filters,
    /// starting at the reach. Entries it returns are rows when their index is below `index`.
    pub fn row_filter(&self) -> LogFilter {
        let mut filter = self.filter.clone();
        filter.from = Some(
            filter
                .from
                .map_or(self.reach_start, |from| from.max(self.reach_start)),
        );
        filter
    }

    /// Where the full entry at `index` stands.
    pub fn place_of_entry(&self, index: u64, entry: &LogEntry) -> Place {
        self.place(
            index,
            entry.event_type.as_str(),
            entry.occurred_at,
            &entry.actor.id,
            entry.unfamiliar.is_some(),
        )
    }

    /// Where the entry whose leaf data is at `index` stands; `None` when the leaf's
    /// `occurred_at` is not a timestamp.
    pub fn place_of_leaf(&self, index: u64, leaf: &LeafData) -> Option<Place> {
        let occurred_at = leaf.occurred_at.parse().ok()?;
        Some(self.place(
            index,
            &leaf.event_type,
            occurred_at,
            &leaf.actor_id,
            leaf.unfamiliar,
        ))
    }

    /// Whether a stored entry is a row of the export.
    pub fn holds(&self, entry: &LogEntry) -> bool {
        entry
            .log_index
            .is_some_and(|index| self.place_of_entry(index, entry) == Place::Row)
    }
}

/// Appends the evidence file to an in-memory buffer that the caller drains in parts.
pub struct EvidenceWriter {
    buf: Vec<u8>,
    state: EvidenceState,
}

impl EvidenceWriter {
    /// A new file: everything up to the first item of `leaves`. `export` is the export's own
    /// entry, at `index` of the log whose checkpoint of `size` is `checkpoint_note`.
    pub fn start(
        checkpoint_note: &str,
        size: u64,
        index: u64,
        export: &LogEntry,
    ) -> Result<Self, CanonicalError> {
        let mut buf = Vec::with_capacity(2048);
        buf.extend_from_slice(br#"{"format":""#);
        buf.extend_from_slice(FORMAT.as_bytes());
        buf.extend_from_slice(format!(r#"","version":{VERSION},"checkpoint":"#).as_bytes());
        serde_json::to_writer(&mut buf, checkpoint_note)?;
        buf.extend_from_slice(
            format!(r#","size":{size},"export":{{"index":{index},"entry":"#).as_bytes(),
        );
        buf.extend_from_slice(canonical_entry(export)?.as_bytes());
        buf.extend_from_slice(b"},\"leaves\":[\n");
        Ok(Self {
            buf,
            state: EvidenceState {
                section: Section::Leaves,
                empty: true,
                next_leaf: 0,
                rows_owed: 0,
                rows_written: 0,
            },
        })
    }

    /// Continues a file whose bytes so far were taken by an earlier writer in `state`.
    pub fn resume(state: EvidenceState) -> Self {
        Self {
            buf: Vec::new(),
            state,
        }
    }

    pub fn state(&self) -> EvidenceState {
        self.state
    }

    fn item(&mut self) {
        if !self.state.empty {
            self.buf.push(b',');
        }
        self.state.empty = false;
    }

    /// The next index's item of `leaves`: its leaf data text, or `None` where the index is
    /// given in full (the export's entry or a row).
    pub fn leaf(&mut self, data: Option<&str>) -> Result<(), CanonicalError> {
        self.leaf_item(data)
    }

    /// A `null` item of `leaves` whose entry must follow as a row.
    pub fn owe_row(&mut self) -> Result<(), CanonicalError> {
        self.state.rows_owed += 1;
        self.leaf_item(None)
    }

    fn leaf_item(&mut self, data: Option<&str>) -> Result<(), CanonicalError> {
        debug_assert_eq!(self.state.section, Section::Leaves);
        self.item();
        match data {
            Some(text) => serde_json::to_writer(&mut self.buf, text)?,
            None => self.buf.extend_from_slice(b"null"),
        }
        self.buf.push(b'\n');
        self.state.next_leaf += 1;
        Ok(())
    }

    fn enter_rows(&mut self) {
        if self.state.section == Section::Leaves {
            self.buf.extend_from_slice(b"],\"rows\":[\n");
            self.state = EvidenceState {
                section: Section::Rows,
                empty: true,
                ..self.state
            };
        }
    }

    /// The next CSV row's entry, in full canonical form.
    pub fn row(&mut self, index: u64, entry: &LogEntry) -> Result<(), CanonicalError> {
        let canonical = canonical_entry(entry)?;
        self.enter_rows();
        self.item();
        self.buf
            .extend_from_slice(format!(r#"{{"index":{index},"entry":"#).as_bytes());
        self.buf.extend_from_slice(canonical.as_bytes());
        self.buf.extend_from_slice(b"}\n");
        self.state.rows_written += 1;
        Ok(())
    }

    /// Whether every `null` left for a row got its row (a row the log says is due but storage
    /// no longer holds would make evidence that cannot verify).
    pub fn rows_complete(&self) -> bool {
        self.state.rows_owed == self.state.rows_written
    }

    /// Ends `leaves` (a log whose rows are none still has the `rows` array).
    pub fn leaves_done(&mut self) {
        self.enter_rows();
    }

    /// Closes the file.
    pub fn finish(&mut self) {
        self.enter_rows();
        self.buf.extend_from_slice(b"]}\n");
        self.state.section = Section::Done;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written since the last take.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests;
