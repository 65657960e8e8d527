//! Export evidence: the JSON file that lets an auditor prove, offline, that an export's CSV is
//! exactly the entries of the account's log at a signed checkpoint that match the export's
//! filters, each row unchanged (docs/integrity.md, "Export evidence").
//!
//! The file is one JSON object, laid out in lines so that a verifier reads it one line at a time
//! (JSON strings never hold a raw newline):
//!
//! ```text
//! {"format":"security-logs-evidence","version":1,"checkpoint":"<signed checkpoint note>","export":{"id":"<export id>","filters":{"from","to","types","actor","tz"}},"size":N,"leaf_hashes":[
//! "<base64 of up to 256 concatenated 32-byte leaf hashes>"
//! ,"<base64 ...>"
//! ],"leaves":[
//! {"index":i,"entry":{<canonical entry>}}
//! ,{"index":i,"leaf":"<leaf data>"}
//! ]}
//! ```
//!
//! `leaf_hashes` are the N leaf hashes of the log in index order (their tree's root is the
//! checkpoint's). `leaves` holds every entry of the log still stored, newest first: an entry
//! the export holds in full (its CSV row, in the CSV's order), any other as its leaf data
//! (type, time, actor, flag and digest, nothing else). Leaves with neither expired before the
//! export (only their hash is kept). [`EvidenceWriter`] writes the file in parts, in constant
//! memory; [`verify`] checks it with a CSV and a verifier key.

mod verify;

pub use verify::{Verified, VerifyError, verify};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::canonical::{CanonicalError, LeafData, canonical_entry};
use super::merkle::Hash;
use crate::domain::LogEntry;
use crate::domain::export::ExportFilters;

pub const FORMAT: &str = "security-logs-evidence";
pub const VERSION: u32 = 1;

/// Which array a writer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    LeafHashes,
    Leaves,
    Done,
}

/// Where a writer stands, so a later invocation can continue the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceState {
    pub section: Section,
    /// Whether the current array is still empty (no comma before the next item).
    pub empty: bool,
}

/// Appends the evidence file to an in-memory buffer that the caller drains in parts.
pub struct EvidenceWriter {
    buf: Vec<u8>,
    state: EvidenceState,
}

#[derive(Serialize)]
struct ExportMember<'a> {
    id: &'a str,
    filters: &'a ExportFilters,
}

impl EvidenceWriter {
    /// A new file: everything up to the first leaf hash.
    pub fn start(
        checkpoint_note: &str,
        export_id: &str,
        filters: &ExportFilters,
        size: u64,
    ) -> Self {
        let mut buf = Vec::with_capacity(1024);
        buf.extend_from_slice(br#"{"format":""#);
        buf.extend_from_slice(FORMAT.as_bytes());
        buf.extend_from_slice(format!(r#"","version":{VERSION},"checkpoint":"#).as_bytes());
        serde_json::to_writer(&mut buf, checkpoint_note).expect("strings serialize");
        buf.extend_from_slice(br#","export":"#);
        serde_json::to_writer(
            &mut buf,
            &ExportMember {
                id: export_id,
                filters,
            },
        )
        .expect("filters serialize");
        buf.extend_from_slice(format!(r#","size":{size},"leaf_hashes":["#).as_bytes());
        buf.push(b'\n');
        Self {
            buf,
            state: EvidenceState {
                section: Section::LeafHashes,
                empty: true,
            },
        }
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

    /// The next leaf hashes of the log, in index order (one tile's worth at a time).
    pub fn leaf_hashes(&mut self, hashes: &[Hash]) {
        debug_assert_eq!(self.state.section, Section::LeafHashes);
        self.item();
        self.buf.push(b'"');
        self.buf
            .extend_from_slice(STANDARD.encode(hashes.concat()).as_bytes());
        self.buf.extend_from_slice(b"\"\n");
    }

    fn enter_leaves(&mut self) {
        if self.state.section == Section::LeafHashes {
            self.buf.extend_from_slice(b"],\"leaves\":[\n");
            self.state = EvidenceState {
                section: Section::Leaves,
                empty: true,
            };
        }
    }

    /// An entry the export holds (its CSV row), in full canonical form.
    pub fn entry(&mut self, index: u64, entry: &LogEntry) -> Result<(), CanonicalError> {
        let canonical = canonical_entry(entry)?;
        self.enter_leaves();
        self.item();
        self.buf
            .extend_from_slice(format!(r#"{{"index":{index},"entry":"#).as_bytes());
        self.buf.extend_from_slice(canonical.as_bytes());
        self.buf.extend_from_slice(b"}\n");
        Ok(())
    }

    /// An entry of the log the export does not hold: only its leaf data.
    pub fn other(&mut self, index: u64, leaf: &LeafData) {
        self.enter_leaves();
        self.item();
        self.buf
            .extend_from_slice(format!(r#"{{"index":{index},"leaf":"#).as_bytes());
        let data = String::from_utf8(leaf.to_bytes()).expect("leaf data is UTF-8 JSON");
        serde_json::to_writer(&mut self.buf, &data).expect("strings serialize");
        self.buf.extend_from_slice(b"}\n");
    }

    /// Closes the file.
    pub fn finish(&mut self) {
        self.enter_leaves();
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
