//! CloudWatch embedded metric format (EMF): a metric is a JSON log line that CloudWatch turns
//! into a metric, so a Lambda publishes metrics by printing them, with no API call and no
//! extra latency. The local dev server prints the same lines, and `make load` reads them back.

use serde_json::{Value, json};

/// The namespace of every metric of the service.
pub const NAMESPACE: &str = "SecurityLogs";
/// At most this many values per metric in one line (EMF's limit).
pub const MAX_VALUES: usize = 100;

/// One metric and its values.
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub values: &'a [f64],
}

/// A dimension besides `Function`, with its value on these lines (e.g. `EventType` = `login`).
/// Its values must come from a fixed list: CloudWatch bills every combination as a metric.
pub struct Dimension<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// The EMF lines recording `metrics` at `timestamp_ms`: each line holds every metric, with at
/// most [`MAX_VALUES`] of its values (a metric with fewer values than lines appears in the
/// first ones only).
pub fn lines(function: &str, timestamp_ms: i64, metrics: &[Metric<'_>]) -> Vec<String> {
    lines_with(function, &[], timestamp_ms, metrics)
}

/// [`lines`] split by `dimensions` (one or more): CloudWatch keeps the metrics per function and
/// those values together, and per function alone (both dimension sets are declared), so the
/// function's total needs no second line.
pub fn lines_by(
    function: &str,
    dimensions: &[Dimension<'_>],
    timestamp_ms: i64,
    metrics: &[Metric<'_>],
) -> Vec<String> {
    lines_with(function, dimensions, timestamp_ms, metrics)
}

fn lines_with(
    function: &str,
    dimensions: &[Dimension<'_>],
    timestamp_ms: i64,
    metrics: &[Metric<'_>],
) -> Vec<String> {
    let dimension_sets = if dimensions.is_empty() {
        json!([["Function"]])
    } else {
        let mut split = vec!["Function"];
        split.extend(dimensions.iter().map(|d| d.name));
        json!([split, ["Function"]])
    };
    let count = metrics
        .iter()
        .map(|m| m.values.len().div_ceil(MAX_VALUES))
        .max()
        .unwrap_or(0);
    (0..count)
        .map(|n| {
            let mut line = serde_json::Map::new();
            let mut declared = Vec::new();
            for metric in metrics {
                let chunk: Vec<f64> = metric
                    .values
                    .iter()
                    .skip(n * MAX_VALUES)
                    .take(MAX_VALUES)
                    .copied()
                    .collect();
                if chunk.is_empty() {
                    continue;
                }
                declared.push(json!({"Name": metric.name, "Unit": metric.unit}));
                line.insert(metric.name.to_owned(), json!(chunk));
            }
            line.insert("Function".into(), json!(function));
            for d in dimensions {
                line.insert(d.name.to_owned(), json!(d.value));
            }
            line.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": dimension_sets,
                        "Metrics": declared,
                    }],
                }),
            );
            Value::Object(line).to_string()
        })
        .collect()
}

/// The values of metric `name` in an EMF line, with the line's timestamp; `None` for any other
/// line (how `make load` reads the dev server's log).
pub fn read(line: &str, name: &str) -> Option<(i64, Vec<f64>)> {
    if !line.starts_with('{') || !line.contains("\"_aws\"") {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    let timestamp = value["_aws"]["Timestamp"].as_i64()?;
    let values = match &value[name] {
        Value::Array(items) => items.iter().filter_map(Value::as_f64).collect(),
        Value::Number(n) => vec![n.as_f64()?],
        _ => return None,
    };
    Some((timestamp, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_split_into_lines_of_at_most_a_hundred_and_read_back() {
        let lags: Vec<f64> = (0..250).map(f64::from).collect();
        let lines = lines(
            "sequencer",
            1_700_000_000_000,
            &[
                Metric {
                    name: "SequencingLag",
                    unit: "Milliseconds",
                    values: &lags,
                },
                Metric {
                    name: "EntriesSequenced",
                    unit: "Count",
                    values: &[250.0],
                },
            ],
        );
        assert_eq!(lines.len(), 3);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            NAMESPACE
        );
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(first["Function"], "sequencer");
        let mut read_back = Vec::new();
        for line in &lines {
            let (timestamp, values) = read(line, "SequencingLag").unwrap();
            assert_eq!(timestamp, 1_700_000_000_000);
            assert!(values.len() <= MAX_VALUES);
            read_back.extend(values);
        }
        assert_eq!(read_back, lags);
        assert_eq!(read(&lines[0], "EntriesSequenced").unwrap().1, [250.0]);
        assert!(read(&lines[1], "EntriesSequenced").is_none());
        assert!(read("INFO log appended", "SequencingLag").is_none());
    }

    #[test]
    fn a_split_line_carries_its_value_and_declares_both_dimension_sets() {
        let lines = lines_by(
            "ingest",
            &[Dimension {
                name: "EventType",
                value: "login",
            }],
            1_700_000_000_000,
            &[Metric {
                name: "EventsIngested",
                unit: "Count",
                values: &[3.0],
            }],
        );
        assert_eq!(lines.len(), 1);
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["EventType"], "login");
        assert_eq!(line["Function"], "ingest");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "EventType"], ["Function"]])
        );
        assert_eq!(read(&lines[0], "EventsIngested").unwrap().1, [3.0]);
    }

    #[test]
    fn a_plain_line_declares_the_function_alone() {
        let lines = lines(
            "sequencer",
            0,
            &[Metric {
                name: "SequencerBatchSize",
                unit: "Count",
                values: &[1.0],
            }],
        );
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
    }
}
