//! The report: one table row per subject, then per subject its event, results, failures and
//! goals, the peer's ratios, and what the columns mean.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::functions::{self, EventSource};
use crate::options::Options;
use crate::stats::{median, ms, spread};

/// The issue "Cold start at the floor": a bare `lambda_http` bootstrap inits in about 2 ms here.
pub const INIT_GOAL: Duration = Duration::from_millis(4);
pub const SIZE_GOAL: u64 = 8_000_000;

/// What was run: one of our functions (with its binary's size), or a peer to compare one of
/// them with.
#[derive(Clone)]
pub enum Kind {
    Function {
        size: u64,
        stripped: Option<bool>,
    },
    Peer {
        /// The function it does the work of.
        of: String,
        /// How the ratio line names it.
        label: &'static str,
        /// Its runtime and library versions, and how it was started.
        about: String,
    },
}

/// The measurements of one run (made by `runs`, which
/// imports this module: the report owns its data, so the two never import each other).
pub struct Sample {
    pub spawn: Duration,
    pub init: Duration,
    pub first_invoke: Duration,
    pub handler: Duration,
    pub rss_kib: u64,
    pub cpu: Duration,
}

/// One subject's measured runs.
pub struct Report {
    pub name: String,
    pub kind: Kind,
    pub samples: Vec<Sample>,
    pub failures: Vec<String>,
    pub results: BTreeMap<String, usize>,
    pub event: EventSource,
}

impl Report {
    fn median_of(&self, pick: fn(&Sample) -> f64) -> Option<f64> {
        median(self.samples.iter().map(pick).collect())
    }

    fn median_init(&self) -> Option<Duration> {
        self.median_of(|s| ms(s.init))
            .map(|median| Duration::from_secs_f64(median / 1000.0))
    }

    /// Whether a function meets the goals (init median, bootstrap size); a peer has none.
    pub fn meets_goals(&self) -> bool {
        match self.kind {
            Kind::Function { size, .. } => {
                size <= SIZE_GOAL && self.median_init().is_some_and(|m| m <= INIT_GOAL)
            }
            Kind::Peer { .. } => true,
        }
    }
}

pub fn print(options: &Options, reports: &[Report], log_dir: &Path) {
    print_table(reports);
    println!();
    for report in reports {
        print_lines(report, log_dir);
    }
    for report in reports {
        if let Kind::Peer { of, label, .. } = &report.kind {
            print_ratios(reports, report, of, label);
        }
    }
    println!(
        "\n{} measured runs per function after {} warm-up; function logs in {}",
        options.runs,
        options.warmup,
        log_dir.display()
    );
    println!(
        "init = exec -> first GET /runtime/invocation/next; exec = fork+exec until the kernel \
         started the binary (process creation on this machine, not the function's code); \
         first invoke = exec -> response posted; handler = next -> response"
    );
    if reports.iter().any(|r| matches!(r.kind, Kind::Peer { .. })) {
        println!(
            "peer = ingest's first request in Python with boto3 under awslambdaric \
             (infra/coldstart/peer), with the same event, Runtime API and environment; it writes \
             one conditional PutItem, less than ingest's idempotent write (a claim transaction \
             and the entry's; with the sample's event_id already claimed, as from the warm-up \
             on, the cancelled claim and two reads); ratios = ours / peer of the medians \
             (below 1: ours is faster or smaller)"
        );
    }
}

fn print_table(reports: &[Report]) {
    let triple = |(a, b, c): (f64, f64, f64), digits: usize| {
        format!("{a:.digits$} / {b:.digits$} / {c:.digits$}")
    };
    let rows: Vec<[String; 9]> = reports
        .iter()
        .map(|r| {
            let samples = &r.samples;
            let pick = |f: fn(&Sample) -> f64| spread(samples.iter().map(f).collect());
            let size = match r.kind {
                Kind::Function { size, stripped } => {
                    let stripped = match stripped {
                        Some(true) => "",
                        Some(false) => " (not stripped)",
                        None => " (not ELF64)",
                    };
                    format!("{:.2} MB{stripped}", size as f64 / 1e6)
                }
                Kind::Peer { .. } => "n/a (Python)".into(),
            };
            [
                r.name.clone(),
                format!("{}", samples.len()),
                triple(pick(|s| ms(s.init)), 1),
                format!("{:.1}", pick(|s| ms(s.spawn)).1),
                triple(pick(|s| ms(s.first_invoke)), 1),
                format!("{:.1}", pick(|s| ms(s.handler)).1),
                triple(pick(|s| s.rss_kib as f64 / 1024.0), 1),
                format!("{:.1}", pick(|s| ms(s.cpu)).1),
                size,
            ]
        })
        .collect();
    let header = [
        "function",
        "runs",
        "init ms min/med/max",
        "of which exec ms med",
        "first invoke ms min/med/max",
        "handler ms med",
        "peak RSS MiB min/med/max",
        "CPU ms med",
        "bootstrap",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    println!();
    line(&header.map(String::from));
    line(&widths.map(|w| "-".repeat(w)));
    for row in &rows {
        line(row);
    }
}

/// The event, results and failures of one subject; a function's cursor-key reads and goals,
/// a peer's versions.
fn print_lines(report: &Report, log_dir: &Path) {
    let name = &report.name;
    let results: Vec<String> = report
        .results
        .iter()
        .map(|(result, count)| format!("{result} x{count}"))
        .collect();
    println!(
        "{name}: event {}; results: {}",
        report.event,
        if results.is_empty() {
            "none".into()
        } else {
            results.join(", ")
        }
    );
    for failure in report.failures.iter().take(3) {
        println!("{name}: FAILED {failure}");
    }
    if report.failures.len() > 3 {
        println!("{name}: ... {} failures in all", report.failures.len());
    }
    let size = match &report.kind {
        Kind::Function { size, .. } => *size,
        Kind::Peer { about, .. } => {
            println!("{name}: {about}");
            return;
        }
    };
    let key_reads = functions::logged_micros(
        &log_dir.join(format!("{name}.log")),
        "cursor signing key loaded",
    );
    if !key_reads.is_empty() {
        let (min, median, max) = spread(key_reads.iter().map(|us| *us as f64 / 1e3).collect());
        println!(
            "{name}: cursor signing key read from Secrets Manager in {min:.1} / {median:.1} / {max:.1} ms \
             (min/med/max of {} reads; read by the first request)",
            key_reads.len()
        );
    }
    let init = report.median_init();
    let init_ok = init.is_some_and(|m| m <= INIT_GOAL);
    let size_ok = size <= SIZE_GOAL;
    println!(
        "{name}: init median {} (goal <= {} ms): {}; bootstrap {:.2} MB (goal <= {} MB): {}",
        init.map_or("n/a".into(), |d| format!("{:.1} ms", ms(d))),
        INIT_GOAL.as_millis(),
        if init_ok { "ok" } else { "MISSED" },
        size as f64 / 1e6,
        SIZE_GOAL / 1_000_000,
        if size_ok { "ok" } else { "MISSED" },
    );
}

/// `ingest vs python-boto3 peer: init 0.12x, first invoke 0.30x, peak RSS 0.15x, CPU 0.05x`:
/// the medians, ours / peer. CPU time (user + system, to the kill) is the one least moved by
/// the machine's other load.
fn print_ratios(reports: &[Report], peer: &Report, of: &str, label: &str) {
    let Some(ours) = reports.iter().find(|r| r.name == of) else {
        return;
    };
    let ratio = |pick: fn(&Sample) -> f64| match (ours.median_of(pick), peer.median_of(pick)) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => times(ours / theirs),
        _ => "n/a".into(),
    };
    println!(
        "{of} vs {label}: init {}, first invoke {}, peak RSS {}, CPU {}",
        ratio(|s| ms(s.init)),
        ratio(|s| ms(s.first_invoke)),
        ratio(|s| s.rss_kib as f64),
        ratio(|s| ms(s.cpu)),
    );
}

/// A ratio with two decimals, or two significant digits below 0.1 (`0.19x`, `0.0088x`).
fn times(ratio: f64) -> String {
    let decimals = if ratio > 0.0 && ratio < 0.1 {
        (1.0 - ratio.log10().floor()) as usize
    } else {
        2
    };
    format!("{ratio:.decimals$}x")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(init_ms: u64, first_invoke_ms: u64, rss_kib: u64) -> Sample {
        Sample {
            spawn: Duration::ZERO,
            init: Duration::from_millis(init_ms),
            first_invoke: Duration::from_millis(first_invoke_ms),
            handler: Duration::ZERO,
            rss_kib,
            cpu: Duration::ZERO,
        }
    }

    fn report(kind: Kind, samples: Vec<Sample>) -> Report {
        Report {
            name: "ingest".into(),
            kind,
            samples,
            failures: Vec::new(),
            results: BTreeMap::new(),
            event: EventSource::Fallback,
        }
    }

    #[test]
    fn goals_need_a_small_binary_and_a_fast_median_init() {
        let function = |size, init_ms| {
            report(
                Kind::Function {
                    size,
                    stripped: Some(true),
                },
                vec![sample(init_ms, 20, 9000)],
            )
        };
        assert!(function(7_900_000, 4).meets_goals());
        assert!(!function(8_100_000, 2).meets_goals());
        assert!(!function(7_000_000, 5).meets_goals());
        assert!(
            !report(
                Kind::Function {
                    size: 1,
                    stripped: None
                },
                Vec::new()
            )
            .meets_goals()
        );
    }

    #[test]
    fn medians_of_a_report() {
        let r = report(
            Kind::Peer {
                of: "ingest".into(),
                label: "peer",
                about: String::new(),
            },
            vec![
                sample(10, 30, 100),
                sample(30, 50, 300),
                sample(20, 40, 200),
            ],
        );
        assert!(r.meets_goals(), "a peer has no goals");
        assert_eq!(r.median_init(), Some(Duration::from_millis(20)));
        assert_eq!(r.median_of(|s| s.rss_kib as f64), Some(200.0));
    }

    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(times(0.3), "0.30x");
        assert_eq!(times(1.5), "1.50x");
        assert_eq!(times(0.0088), "0.0088x");
        assert_eq!(times(0.012), "0.012x");
        assert_eq!(times(0.1), "0.10x");
    }
}
