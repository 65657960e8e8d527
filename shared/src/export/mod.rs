//! Security-log exports (API.md, "Exports"): the worker that turns a job into the CSV file a
//! merchant downloads, and its evidence, across as many invocations as it takes.
//!
//! A use case like `sequencer/`: the worker (`worker/`) reaches jobs, entries, the bucket, the
//! log and the clock only through its ports (`ports.rs`), which the adapters of `crate::store`
//! implement; the rows themselves are rendered by the core's [`crate::csv::CsvEncoder`], which
//! the offline verifier shares.

pub mod memory;
pub mod object_keys;
pub mod ports;
pub mod worker;
