//! The bytes a log leaf commits to: the canonical JSON of a stored entry, and the leaf data
//! built from it (docs/design/integrity.md, "Leaf data", is the normative description).
//!
//! Canonical JSON is RFC 8785 (JCS) except for numbers, which are written as the exact decimal
//! text stored: `details` keeps numbers of any magnitude verbatim ([`Json::Number`]), and
//! rewriting them as ECMAScript doubles would lose digits.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::merkle::{Hash, leaf_hash};
use crate::domain::LogEntry;
use crate::domain::json::Json;

/// Writes `value` as canonical JSON: no whitespace, object keys sorted by UTF-16 code units,
/// JCS string escapes, numbers verbatim.
pub fn canonical_json(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(text) => out.push_str(text),
        Json::String(s) => write_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            // BTreeMap orders by UTF-8 bytes, which differs from UTF-16 order once a key holds
            // a character above U+FFFF next to one in U+E000..U+FFFF.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// RFC 8785 3.2.2.2: only `"`, `\` and controls below U+0020 are escaped, the controls with a
/// short form when JSON has one, else `\u00xx` in lowercase hex.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Runs of characters written as themselves are copied whole; only `"`, `\` and controls
    // below U+0020 (all ASCII, so never inside a multi-byte character) are escaped.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[derive(Debug, Error)]
pub enum CanonicalError {
    /// Only if a stored `details` number is not valid JSON number text.
    #[error("the entry does not serialize as JSON: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// The canonical JSON of a stored entry: the object `serde` writes for [`LogEntry`] (absent
/// optional fields omitted, timestamps as RFC 3339 UTC text), canonicalized.
pub fn canonical_entry(entry: &LogEntry) -> Result<String, CanonicalError> {
    // Through `Json` so that `details` numbers keep their text and every field is written by
    // the one serde definition storage and the API already use.
    let text = serde_json::to_string(entry)?;
    Ok(canonical_json(&Json::parse(&text)?))
}

/// The version of the leaf data structure, its `v` field.
pub const LEAF_VERSION: u32 = 1;

/// What a leaf reveals of an entry: enough to show its type, time, actor and unfamiliar flag (so a verifier can
/// decide whether it matches an export's filter), and the digest of the whole entry, which
/// binds the rest (details, ip, producer, `received_at`, ...) without showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafData {
    /// The entry's `type`, e.g. `user.login_succeeded`.
    pub event_type: String,
    /// The entry's `occurred_at`, exactly as in its canonical JSON.
    pub occurred_at: String,
    /// The entry's `actor.id`.
    pub actor_id: String,
    /// SHA-256 of the entry's canonical JSON (UTF-8).
    pub entry_sha256: Hash,
    /// Whether the entry is a sign-in flagged unfamiliar (its `unfamiliar` member is present).
    pub unfamiliar: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeafError {
    #[error("leaf data is not JSON")]
    NotJson,
    #[error("leaf data is not the canonical JSON object of leaf version {LEAF_VERSION}")]
    NotCanonical,
    #[error("leaf data field {0} is missing or has the wrong type")]
    Field(&'static str),
    #[error("entry_sha256 is not 64 lowercase hex digits")]
    Digest,
}

impl LeafData {
    pub fn of(entry: &LogEntry) -> Result<Self, CanonicalError> {
        Ok(Self::of_canonical(entry, &canonical_entry(entry)?))
    }

    /// The leaf data of `entry` whose canonical JSON, already computed, is `canonical`.
    pub fn of_canonical(entry: &LogEntry, canonical: &str) -> Self {
        Self {
            event_type: entry.event_type.as_str().to_owned(),
            occurred_at: entry.occurred_at.to_string(),
            actor_id: entry.actor.id.clone(),
            entry_sha256: Sha256::digest(canonical.as_bytes()).into(),
            unfamiliar: entry.unfamiliar.is_some(),
        }
    }

    /// The leaf data bytes: canonical JSON of
    /// `{"actor_id","entry_sha256","occurred_at","type","unfamiliar","v"}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_text().into_bytes()
    }

    /// The leaf data as text (canonical JSON, so one line: a newline in a field is escaped).
    /// Written directly, members in their canonical order (the names sort the same in UTF-16
    /// and in bytes): a verifier computes this for every row.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(160 + self.actor_id.len() + self.event_type.len());
        out.push_str("{\"actor_id\":");
        write_string(&mut out, &self.actor_id);
        out.push_str(",\"entry_sha256\":\"");
        out.push_str(&hex(&self.entry_sha256));
        out.push_str("\",\"occurred_at\":");
        write_string(&mut out, &self.occurred_at);
        out.push_str(",\"type\":");
        write_string(&mut out, &self.event_type);
        out.push_str(if self.unfamiliar {
            ",\"unfamiliar\":true"
        } else {
            ",\"unfamiliar\":false"
        });
        let _ = write!(out, ",\"v\":{LEAF_VERSION}}}");
        out
    }

    /// The Merkle leaf hash, `SHA-256(0x00 || leaf data)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.to_bytes())
    }

    /// Reads leaf data as evidence carries it. Only the canonical bytes are accepted, so a
    /// leaf has one encoding and no parser can read other fields than the ones hashed (a
    /// duplicate key, say).
    pub fn parse(bytes: &[u8]) -> Result<Self, LeafError> {
        let text = std::str::from_utf8(bytes).map_err(|_| LeafError::NotJson)?;
        let json = Json::parse(text).map_err(|_| LeafError::NotJson)?;
        let string = |key: &'static str| -> Result<String, LeafError> {
            json.get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or(LeafError::Field(key))
        };
        if json.get("v") != Some(&Json::Number(LEAF_VERSION.to_string())) {
            return Err(LeafError::NotCanonical);
        }
        let leaf = Self {
            event_type: string("type")?,
            occurred_at: string("occurred_at")?,
            actor_id: string("actor_id")?,
            entry_sha256: parse_hex(&string("entry_sha256")?).ok_or(LeafError::Digest)?,
            unfamiliar: json
                .get("unfamiliar")
                .and_then(Json::as_bool)
                .ok_or(LeafError::Field("unfamiliar"))?,
        };
        if leaf.to_bytes() != bytes {
            return Err(LeafError::NotCanonical);
        }
        Ok(leaf)
    }

    /// Whether this leaf is the one of `entry` (the auditor's check of a full entry).
    pub fn commits_to(&self, entry: &LogEntry) -> Result<bool, CanonicalError> {
        Ok(*self == Self::of(entry)?)
    }
}

/// Lowercase hex (also the published keys' fingerprints).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn parse_hex(text: &str) -> Option<Hash> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
