//! The flag of an unfamiliar sign-in, stored with a `login` entry (API.md, "Unfamiliar
//! sign-ins"). It is decided once, when the entry is recorded, and the entry's leaf in the
//! tamper-evident log commits to it.

use serde::{Deserialize, Serialize};

/// Why a sign-in is unusual for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnfamiliarReason {
    NewDevice,
    NewNetwork,
    NewCountry,
}

/// `{"reasons": [...]}` on a flagged sign-in; an unflagged entry has no such member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfamiliar {
    pub reasons: Vec<UnfamiliarReason>,
}
