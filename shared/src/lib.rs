//! The security-logs library shared by every Lambda: the domain (parsed, always-valid types),
//! the DynamoDB storage adapter and the HTTP edge (auth context, problem+json errors).
//!
//! Handlers in `functions/*` parse an event with [`http`], call [`domain`] / [`store`], and shape
//! the response; every rule of the API contract lives here, in exactly one function.

pub mod config;
pub mod domain;
pub mod error;
pub mod export;
pub mod http;
pub mod integrity;
pub mod sequencer;
pub mod store;
pub mod telemetry;

pub use error::{ApiError, FieldError};
