//! The body of a webhook delivery, shared by the sender and by receivers built on this crate
//! (`tools/stream-receiver`), so the two cannot drift:
//! `{"stream_id", "delivery_id", "format", "records": [...], "checkpoint"}`.
//!
//! A batch holds at most [`MAX_RECORDS`] records and its body at most [`MAX_BODY_BYTES`]
//! (API.md): [`records_that_fit`] says how many of the next records one body can take, from
//! their written lengths, so the sender never builds a body only to find it too large.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::stream::StreamFormat;

pub const MAX_RECORDS: usize = 100;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One delivery. `checkpoint` is the latest signed checkpoint of the account's log covering the
/// records, as `GET /v1/integrity/checkpoint` returns it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery<'a> {
    pub stream_id: String,
    pub delivery_id: String,
    pub format: StreamFormat,
    #[serde(borrow)]
    pub records: Vec<&'a RawValue>,
    pub checkpoint: String,
}

impl Delivery<'_> {
    /// The body as sent (compact JSON; the signature covers exactly these bytes).
    pub fn to_body(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// How many of `records` (in order) one delivery can carry: at most [`MAX_RECORDS`], and the
/// body, with `envelope_bytes` for everything but the records, at most [`MAX_BODY_BYTES`].
/// At least one when any is given, so a stream always moves (a record is far below the limit:
/// an entry's details are at most 8 KiB).
pub fn records_that_fit(records: &[&RawValue], envelope_bytes: usize) -> usize {
    let mut size = envelope_bytes;
    let mut count = 0;
    for record in records.iter().take(MAX_RECORDS) {
        // A comma between records.
        let added = record.get().len() + usize::from(count > 0);
        if count > 0 && size + added > MAX_BODY_BYTES {
            break;
        }
        size += added;
        count += 1;
    }
    count
}

/// The size of a delivery's body without its records (`"records":[]`), for
/// [`records_that_fit`].
pub fn envelope_bytes(
    stream_id: &str,
    delivery_id: &str,
    format: StreamFormat,
    checkpoint: &str,
) -> Result<usize, serde_json::Error> {
    let empty = Delivery {
        stream_id: stream_id.to_owned(),
        delivery_id: delivery_id.to_owned(),
        format,
        records: Vec::new(),
        checkpoint: checkpoint.to_owned(),
    };
    Ok(empty.to_body()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKPOINT: &str = "security-logs/acct_demo\n3\nabc=\n\n— security-logs sig=\n";

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn the_body_has_the_contract_s_members_and_reads_back() {
        let records = [raw(
            r#"{"log_index":0,"details":{"n":123456789012345678901234567890}}"#,
        )];
        let delivery = Delivery {
            stream_id: "st_1".into(),
            delivery_id: "dl_1".into(),
            format: StreamFormat::Native,
            records: records.iter().map(AsRef::as_ref).collect(),
            checkpoint: CHECKPOINT.to_owned(),
        };
        let body = delivery.to_body().unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.starts_with(
            r#"{"stream_id":"st_1","delivery_id":"dl_1","format":"native","records":[{"#
        ));
        assert!(text.contains("123456789012345678901234567890"), "{text}");
        let read: Delivery<'_> = serde_json::from_slice(&body).unwrap();
        assert_eq!(read.records[0].get(), records[0].get());
        assert_eq!(read.checkpoint, CHECKPOINT);
        let envelope = envelope_bytes("st_1", "dl_1", StreamFormat::Native, CHECKPOINT).unwrap();
        assert_eq!(envelope + records[0].get().len(), body.len());
    }

    #[test]
    fn a_batch_stops_at_100_records() {
        let records: Vec<Box<RawValue>> = (0..150).map(|i| raw(&format!("{i}"))).collect();
        let refs: Vec<&RawValue> = records.iter().map(AsRef::as_ref).collect();
        assert_eq!(records_that_fit(&refs, 200), MAX_RECORDS);
        assert_eq!(records_that_fit(&refs[..7], 200), 7);
        assert_eq!(records_that_fit(&[], 200), 0);
    }

    #[test]
    fn a_batch_stops_before_the_body_would_pass_1_mib_and_the_body_fits() {
        let big = raw(&format!("\"{}\"", "x".repeat(100_000)));
        let refs = vec![big.as_ref(); 20];
        let envelope = envelope_bytes("st_1", "dl_1", StreamFormat::Ocsf, CHECKPOINT).unwrap();
        let count = records_that_fit(&refs, envelope);
        assert_eq!(count, 10);
        let body = Delivery {
            stream_id: "st_1".into(),
            delivery_id: "dl_1".into(),
            format: StreamFormat::Ocsf,
            records: refs[..count].to_vec(),
            checkpoint: CHECKPOINT.to_owned(),
        }
        .to_body()
        .unwrap();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        let one_more = Delivery {
            records: refs[..count + 1].to_vec(),
            ..serde_json::from_slice(&body).unwrap()
        };
        assert!(one_more.to_body().unwrap().len() > MAX_BODY_BYTES);
    }

    #[test]
    fn one_record_always_moves() {
        let huge = raw(&format!("\"{}\"", "x".repeat(MAX_BODY_BYTES)));
        assert_eq!(records_that_fit(&[huge.as_ref()], 200), 1);
    }
}
