//! Sequencing lag as a figure: the sequencer's EMF lines (the same metric CloudWatch gets in the
//! cloud) read back from the dev server's log after a run.

use std::time::Duration;

use seclog::telemetry::emf;

/// What the sequencer reported during a run.
pub struct Sequencing {
    /// Each appended entry's lag from stored to sequenced, sorted.
    lags: Vec<Duration>,
    /// The lags of entries sequenced while the producers ran, sorted.
    lags_producing: Vec<Duration>,
    entries: f64,
    busy: Duration,
}

impl Sequencing {
    /// Reads the server's log; `producing_until_ms` is when the producers stopped (Unix ms).
    pub fn from_log(log: &str, producing_until_ms: i64) -> Self {
        let (mut lags, mut lags_producing) = (Vec::new(), Vec::new());
        let (mut entries, mut busy) = (0.0, 0.0);
        for line in log.lines() {
            if let Some((at, values)) = emf::read(line, "SequencingLag") {
                let values = values.iter().map(|ms| Duration::from_secs_f64(ms / 1000.0));
                if at <= producing_until_ms {
                    lags_producing.extend(values.clone());
                }
                lags.extend(values);
            }
            if let Some((_, values)) = emf::read(line, "EntriesSequenced") {
                entries += values.iter().sum::<f64>();
            }
            if let Some((_, values)) = emf::read(line, "SequencerBusy") {
                busy += values.iter().sum::<f64>();
            }
        }
        lags.sort();
        lags_producing.sort();
        Self {
            lags,
            lags_producing,
            entries,
            busy: Duration::from_secs_f64(busy / 1000.0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lags.is_empty()
    }

    /// Entries the sequencer appends per second of its own busy time: its capacity.
    pub fn entries_per_second(&self) -> f64 {
        self.entries / self.busy.as_secs_f64().max(1e-9)
    }

    pub fn p99_while_producing(&self) -> Duration {
        crate::percentile(&self.lags_producing, 0.99)
    }

    /// `sequencing: ...` lines for the run's report, with the goals.
    pub fn report(&self, ingest_per_second: f64, exports_after_producers: Duration) -> String {
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        let p = |q| ms(crate::percentile(&self.lags, q));
        let ratio = self.entries_per_second() / ingest_per_second.max(1e-9);
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        format!(
            "sequencing: {:.0} entries, lag from stored to log_index p50 {} / p99 {} / max {} (while producers ran: p99 {}); sequencer {:.0} entries/s busy, {ratio:.1}x ingest's {ingest_per_second:.0} events/s\n\
             goals: sequencer >= 2x ingest {}; lag p99 < 5 s while producing {}; exports done within 60 s after the producers {} ({exports_after_producers:.0?})",
            self.entries,
            p(0.5),
            p(0.99),
            ms(self.lags.last().copied().unwrap_or_default()),
            ms(self.p99_while_producing()),
            self.entries_per_second(),
            verdict(ratio >= 2.0),
            verdict(self.p99_while_producing() < Duration::from_secs(5)),
            verdict(exports_after_producers <= Duration::from_secs(60)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seclog::telemetry::emf::{Metric, lines};

    #[test]
    fn reads_lags_and_throughput_from_emf_lines() {
        let lags: Vec<f64> = (1..=200).map(f64::from).collect();
        let mut log = String::from("some other line\n");
        for (at, chunk) in [(1_000, &lags[..100]), (2_000, &lags[100..])] {
            for line in lines(
                "sequencer",
                at,
                &[
                    Metric {
                        name: "SequencingLag",
                        unit: "Milliseconds",
                        values: chunk,
                    },
                    Metric {
                        name: "EntriesSequenced",
                        unit: "Count",
                        values: &[100.0],
                    },
                    Metric {
                        name: "SequencerBusy",
                        unit: "Milliseconds",
                        values: &[500.0],
                    },
                ],
            ) {
                log.push_str(&line);
                log.push('\n');
            }
        }
        let figures = Sequencing::from_log(&log, 1_500);
        assert_eq!(figures.entries_per_second(), 200.0);
        assert_eq!(figures.p99_while_producing(), Duration::from_millis(99));
        let report = figures.report(50.0, Duration::from_secs(10));
        assert!(report.contains("p99 198 ms"), "{report}");
        assert!(report.contains("4.0x ingest"), "{report}");
        assert!(report.contains("sequencer >= 2x ingest met"), "{report}");
    }
}
