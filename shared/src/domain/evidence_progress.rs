//! Where an export's evidence writer stands between worker invocations.
//!
//! It is part of an export job's resume point ([`Checkpoint`](super::export::Checkpoint)),
//! stored with the job, so it lives in the domain: `integrity` uses the domain (entries,
//! accounts, export filters) and the domain never uses `integrity`, so the two never import
//! each other. The writer that advances it is `integrity::evidence::EvidenceWriter`, which
//! re-exports these types.

use serde::{Deserialize, Serialize};

/// Which array a writer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    Leaves,
    Rows,
    Done,
}

/// Where a writer stands, so a later invocation can continue the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceState {
    pub section: Section,
    /// Whether the current array is still empty (no comma before the next item).
    pub empty: bool,
    /// In `leaves`: the index of the next item.
    #[serde(default)]
    pub next_leaf: u64,
    /// Items of `leaves` left `null` for a row, and rows written: equal when the file is done.
    #[serde(default)]
    pub rows_owed: u64,
    #[serde(default)]
    pub rows_written: u64,
}
