//! The local stand-in for API Gateway and Lambda: one loopback HTTP endpoint that serves every
//! function through its real handler, plus the local AWS stack those handlers talk to.

pub mod backlog;
pub mod demo;
pub mod gateway;
pub mod ingest_resources;
pub mod jwt;
pub mod log_key;
pub mod process;
pub mod queue;
pub mod s3;
pub mod schedule;
pub mod secrets;
pub mod sigv4;
pub mod stack;
pub mod stream_resources;
pub mod streams;
pub mod web;
pub mod worker_process;

/// The retention of the local stack when `RETENTION_DAYS` is unset: ten years, so the events of
/// the walk-through and the tests (dated 2024-04-22) stay within an export's reach,
/// which counts back from the request by `occurred_at` (docs/design/integrity.md, "The reach"). The
/// cloud's default stays 365 days.
pub const LOCAL_RETENTION_DAYS: i64 = 3650;

pub use gateway::{App, Tables, router};
pub use s3::LocalS3;
pub use stack::LocalStack;
