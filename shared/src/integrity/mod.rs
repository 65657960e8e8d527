//! Tamper evidence (docs/integrity.md): the pure parts an auditor also runs offline.
//!
//! - [`merkle`]: RFC 9162 tree hashing, inclusion and consistency proofs.
//!
//! No storage and no AWS here: a verifier binary depends on this module alone.

pub mod merkle;
