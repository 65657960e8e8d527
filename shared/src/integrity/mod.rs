//! Tamper evidence (docs/design/integrity.md): the pure parts an auditor also runs offline.
//!
//! - [`merkle`]: RFC 9162 tree hashing, inclusion and consistency proofs;
//! - [`canonical`]: the canonical JSON of a stored entry and the leaf data committing to it;
//! - [`note`]: C2SP signed notes and tlog checkpoints, Ed25519 verifier keys, the signer port;
//! - [`keys`]: the platform's published signing keys (fingerprints, rotation history);
//! - [`tiles`]: the stored form of a tree (hash tiles and the right edge), appends and proofs.
//!
//! No storage and no AWS here: a verifier binary depends on this module alone.
//!
//! Imports point one way: this module uses the domain (entries, accounts, export filters) and
//! the CSV encoder; the domain never uses this module (what an export job stores of its
//! evidence writer's progress is the domain's `evidence_progress`).

pub mod canonical;
pub mod evidence;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod tiles;
