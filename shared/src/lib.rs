//! The security-logs library shared by every Lambda: the domain (parsed, always-valid types),
//! the DynamoDB storage adapter and the HTTP edge (auth context, problem+json errors).
//!
//! Handlers in `functions/*` parse an event with [`http`], call [`domain`] / [`store`], and shape
//! the response; every rule of the API contract lives here, in exactly one function.
//!
//! Feature `aws` (default) adds the adapters and everything that runs in a Lambda. Without it the
//! crate is the pure core: domain types, canonical entries, Merkle proofs, signed notes, CSV
//! rendering and export evidence, and the rules of streams (webhook addresses, signatures,
//! records), no AWS crate and no I/O: what the offline verifier (`seclog-verify`) and the local
//! stream receiver are built on, so they can never disagree with the service.

#[cfg(feature = "aws")]
pub mod config;
#[cfg(feature = "aws")]
pub mod coverage;
pub mod csv;
pub mod domain;
pub mod error;
#[cfg(feature = "aws")]
pub mod event_source;
#[cfg(feature = "aws")]
pub mod export;
#[cfg(feature = "aws")]
pub mod http;
#[cfg(feature = "aws")]
pub mod ingest;
pub mod integrity;
#[cfg(all(test, feature = "aws"))]
mod proptests;
#[cfg(feature = "aws")]
pub mod sequencer;
#[cfg(feature = "aws")]
pub mod signins;
#[cfg(feature = "aws")]
pub mod storage;
#[cfg(feature = "aws")]
pub mod store;
pub mod streams;
#[cfg(feature = "aws")]
pub mod telemetry;

pub use error::{ApiError, FieldError};
