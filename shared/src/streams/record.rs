//! One log entry as a stream record, in the format the merchant chose for the stream.
//!
//! `native` is exactly the object `GET /v1/logs` shows for the entry, with UTC as the viewer's
//! zone: the list's own view ([`LogEntry::view`]) serializes it, so the two cannot differ.
//! `ocsf` is an OCSF event ([`super::ocsf`]). Both carry the entry's position in the account's
//! log (`log_index`; OCSF `metadata.sequence`), so a receiver drops repeats and sees gaps: a
//! record of an entry the sequencer has not placed yet cannot be made.
//!
//! Records are written as JSON text (`RawValue`), never through `serde_json::Value`, which
//! would turn big integers in `details` into floats.

use serde_json::value::RawValue;
use thiserror::Error;

use crate::domain::stream::StreamFormat;
use crate::domain::{LogEntry, ViewerZone};

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("entry {0} has no log_index yet: only sequenced entries are streamed")]
    Unsequenced(String),
    #[error("entry {id} could not be written as JSON: {source}")]
    Json {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The record of `entry` in `format`.
pub fn render(entry: &LogEntry, format: StreamFormat) -> Result<Box<RawValue>, RecordError> {
    let Some(log_index) = entry.log_index else {
        return Err(RecordError::Unsequenced(entry.id.as_str().to_owned()));
    };
    let json = match format {
        StreamFormat::Native => serde_json::value::to_raw_value(&entry.view(&ViewerZone::utc())),
        StreamFormat::Ocsf => {
            serde_json::value::to_raw_value(&super::ocsf::OcsfEvent::of(entry, log_index))
        }
    };
    json.map_err(|source| RecordError::Json {
        id: entry.id.as_str().to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
