//! Security-log exports: the CSV file a merchant downloads (API.md, "Exports").
//!
//! [`csv::CsvEncoder`] turns [`crate::domain::LogEntry`] values into CSV bytes held in memory;
//! the export worker drains them in parts and uploads them with
//! [`crate::store::s3::exports_bucket::ExportsBucket`].

pub mod csv;
#[cfg(feature = "aws")]
pub mod memory;
#[cfg(feature = "aws")]
pub mod ports;
#[cfg(feature = "aws")]
pub mod worker;

pub use self::csv::{COLUMNS, CsvEncoder, CsvStart, neutralize_formula};
