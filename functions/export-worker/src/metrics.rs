//! The export worker's metrics, as EMF lines printed once per invocation that finished an
//! export (no API call): `ExportsSucceeded` and `ExportsFailed`, and of each succeeded export
//! its `ExportRows` and `ExportDuration`, from the merchant's request to the file being ready
//! (waits and continuations included: what the merchant waits). An invocation that only
//! checkpointed or skipped prints nothing.

use jiff::Timestamp;
use seclog::export::worker::Outcome;
use seclog::store::dynamodb::exports::JOB_ATTRIBUTE;
use seclog::telemetry::emf::{Metric, lines};
use serde_dynamo::AttributeValue;

use crate::StreamRecord;

/// The exports an invocation finished.
#[derive(Debug, Default)]
pub struct Finished {
    succeeded: u32,
    failed: u32,
    rows: Vec<f64>,
    durations: Vec<f64>,
}

impl Finished {
    /// Counts the outcome of `record`'s export; a success's duration runs from the request
    /// time its record carries.
    pub fn count(&mut self, outcome: &Outcome, record: &StreamRecord, now: Timestamp) {
        match outcome {
            Outcome::Succeeded { rows } => {
                self.succeeded += 1;
                self.rows.push(*rows as f64);
                if let Some(requested) = requested_at(record) {
                    self.durations
                        .push(now.duration_since(requested).as_millis_f64().max(0.0));
                }
            }
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Checkpointed { .. } | Outcome::Skipped(_) => {}
        }
    }

    /// The invocation's lines; none when no export finished.
    pub fn lines(&self, timestamp_ms: i64) -> Vec<String> {
        if self.succeeded + self.failed == 0 {
            return Vec::new();
        }
        let metrics = [
            Metric {
                name: "ExportsSucceeded",
                unit: "Count",
                values: &[f64::from(self.succeeded)],
            },
            Metric {
                name: "ExportsFailed",
                unit: "Count",
                values: &[f64::from(self.failed)],
            },
            Metric {
                name: "ExportRows",
                unit: "Count",
                values: &self.rows,
            },
            Metric {
                name: "ExportDuration",
                unit: "Milliseconds",
                values: &self.durations,
            },
        ];
        lines("export-worker", timestamp_ms, &metrics)
    }

    /// Prints [`Finished::lines`] on stdout (CloudWatch in Lambda, the server's log locally).
    pub fn emit(&self) {
        for line in self.lines(Timestamp::now().as_millisecond()) {
            println!("{line}");
        }
    }
}

/// When the export was requested: the job's `created_at`, read from the record's image of the
/// job (no storage read). Only that member is decoded; the rest of the job is skipped.
fn requested_at(record: &StreamRecord) -> Option<Timestamp> {
    #[derive(serde::Deserialize)]
    struct Requested {
        created_at: Timestamp,
    }
    match record.change.new_image.get(JOB_ATTRIBUTE) {
        Some(AttributeValue::S(job)) => serde_json::from_str::<Requested>(job)
            .ok()
            .map(|r| r.created_at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn record_requested_at(created_at: &str) -> StreamRecord {
        let mut record = StreamRecord::default();
        let job =
            format!(r#"{{"id": "exp_1", "created_at": "{created_at}", "status": "pending"}}"#);
        record
            .change
            .new_image
            .insert(JOB_ATTRIBUTE.to_owned(), AttributeValue::S(job));
        record
    }

    fn values(line: &str, metric: &str) -> Vec<f64> {
        let line: Value = serde_json::from_str(line).unwrap();
        line[metric]
            .as_array()
            .map(|values| values.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_success_reports_its_rows_and_its_time_since_the_request() {
        let now: Timestamp = "2025-01-01T00:02:00Z".parse().unwrap();
        let mut finished = Finished::default();
        finished.count(
            &Outcome::Succeeded { rows: 42 },
            &record_requested_at("2025-01-01T00:00:00Z"),
            now,
        );
        finished.count(
            &Outcome::Failed {
                reason: "the tamper-evident log is behind".into(),
            },
            &StreamRecord::default(),
            now,
        );
        let lines = finished.lines(0);
        assert_eq!(lines.len(), 1);
        assert_eq!(values(&lines[0], "ExportsSucceeded"), [1.0]);
        assert_eq!(values(&lines[0], "ExportsFailed"), [1.0]);
        assert_eq!(values(&lines[0], "ExportRows"), [42.0]);
        assert_eq!(values(&lines[0], "ExportDuration"), [120_000.0]);
    }

    #[test]
    fn a_success_without_a_readable_request_time_reports_no_duration() {
        let mut finished = Finished::default();
        finished.count(
            &Outcome::Succeeded { rows: 1 },
            &StreamRecord::default(),
            Timestamp::now(),
        );
        let lines = finished.lines(0);
        assert_eq!(values(&lines[0], "ExportRows"), [1.0]);
        assert!(values(&lines[0], "ExportDuration").is_empty());
    }

    #[test]
    fn an_invocation_that_finished_nothing_prints_nothing() {
        let mut finished = Finished::default();
        let record = record_requested_at("2025-01-01T00:00:00Z");
        finished.count(
            &Outcome::Checkpointed { rows: 5 },
            &record,
            Timestamp::now(),
        );
        finished.count(
            &Outcome::Skipped("no such export"),
            &record,
            Timestamp::now(),
        );
        assert!(finished.lines(0).is_empty());
    }
}
