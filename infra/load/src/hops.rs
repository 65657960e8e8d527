//! Where a streamed entry's time goes, hop by hop: the stream functions' EMF lines (the metrics
//! CloudWatch gets in the cloud) read back from the dev server's log after a run.

use std::time::Duration;

use seclog::telemetry::emf;

/// The hops after sequencing, in the order an entry takes them: (metric, what it measures).
const HOPS: [(&str, &str); 4] = [
    ("FanoutLag", "log write to fan-out"),
    ("RunQueueWait", "wait in the queue of runs"),
    ("RunDuration", "a delivery run"),
    ("DeliveryLag", "received_at to acknowledged, per batch"),
];

/// `streams hops: ...`, p50 / p99 of each hop's metric; hops with no values are left out.
pub fn report(log: &str) -> String {
    let parts: Vec<String> = HOPS
        .iter()
        .filter_map(|(name, what)| {
            let mut values: Vec<Duration> = log
                .lines()
                .filter_map(|line| emf::read(line, name))
                .flat_map(|(_, values)| values)
                .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
                .collect();
            if values.is_empty() {
                return None;
            }
            values.sort();
            let ms = |q| crate::percentile(&values, q).as_millis();
            Some(format!(
                "{what} p50 {} / p99 {} ms ({} values)",
                ms(0.5),
                ms(0.99),
                values.len()
            ))
        })
        .collect();
    format!("streams hops: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seclog::telemetry::emf::{Metric, lines};

    #[test]
    fn reports_each_hops_percentiles_from_emf_lines() {
        let waits: Vec<f64> = (1..=100).map(f64::from).collect();
        let mut log = String::from("not a metric\n");
        for line in lines(
            "stream-delivery",
            1_000,
            &[Metric {
                name: "RunQueueWait",
                unit: "Milliseconds",
                values: &waits,
            }],
        ) {
            log.push_str(&line);
            log.push('\n');
        }
        let report = report(&log);
        assert!(
            report.contains("wait in the queue of runs p50 51 / p99 99 ms (100 values)"),
            "{report}"
        );
        assert!(!report.contains("fan-out"), "{report}");
    }
}
