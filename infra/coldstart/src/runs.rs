//! One subject's runs: for each, arm the Runtime API with the event, execute the subject as
//! Lambda does, wait for its answer and measure it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::functions::{self, EventSource};
use crate::options::Options;
use crate::process::Process;
use crate::report::{Kind, Report, Sample};
use crate::runtime_api::{Invocation, Outcome, RuntimeApi};

/// What to execute and how: a function's release binary, or the peer's Python runtime.
pub struct Subject {
    /// Names its row, its log file (`<name>.log`), its ARN and request ids.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub event: EventSource,
    pub kind: Kind,
}

/// `options.warmup` discarded runs, then `options.runs` measured ones.
pub fn bench(
    options: &Options,
    api: &Arc<RuntimeApi>,
    subject: Subject,
    log_dir: &Path,
) -> Result<Report, String> {
    let event = match &subject.event {
        EventSource::File(path) => {
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        EventSource::Fallback => functions::minimal_http_event(),
    };
    let event = Bytes::from(event);
    let log_path = log_dir.join(format!("{}.log", subject.name));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    eprintln!(
        "{}: {} warm-up + {} runs, event {}",
        subject.name, options.warmup, options.runs, subject.event
    );

    let mut report = Report {
        name: subject.name.clone(),
        kind: subject.kind.clone(),
        samples: Vec::new(),
        failures: Vec::new(),
        results: BTreeMap::new(),
        event: subject.event.clone(),
    };
    for index in 0..options.warmup + options.runs {
        let warmup = index < options.warmup;
        let request_id = format!("coldstart-{}-{index:04}", subject.name);
        api.begin(Invocation {
            request_id,
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                subject.name
            ),
            event: event.clone(),
            timeout: Duration::from_secs(10),
        });
        match run_once(api, &options.wrap, &subject, &log, options.timeout) {
            Ok((sample, result)) => {
                if !warmup {
                    report.samples.push(sample);
                    *report.results.entry(result).or_default() += 1;
                }
            }
            Err(failure) => report.failures.push(format!("run {index}: {failure}")),
        }
    }
    Ok(report)
}

/// Executes the subject once, serves it the armed invocation, measures and kills it.
fn run_once(
    api: &Arc<RuntimeApi>,
    wrap: &[String],
    subject: &Subject,
    log: &File,
    timeout: Duration,
) -> Result<(Sample, String), String> {
    let mut command = match wrap.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&subject.program);
            command
        }
        None => Command::new(&subject.program),
    };
    command
        .args(&subject.args)
        .env_clear()
        .envs(subject.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&subject.cwd)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log.try_clone().map_err(|e| e.to_string())?);
    let started = Instant::now();
    let mut process = Process::spawn(&mut command)
        .map_err(|e| format!("exec {}: {e}", subject.program.display()))?;
    let spawned = Instant::now();
    let observed = api.wait(timeout, || process.alive());
    let rss_kib = process.peak_rss_kib();
    if !wrap.is_empty() {
        // Let a profiler finish its output: SIGINT first, SIGKILL after a grace period.
        process.interrupt(Duration::from_secs(10));
    }
    let (exited, usage) = process.kill_and_reap();
    if observed.strays > 0 {
        return Err(format!(
            "{} request(s) with an unknown request id",
            observed.strays
        ));
    }
    let result = match &observed.outcome {
        Some(Outcome::Response(body)) => response_summary(body),
        Some(Outcome::Error(body)) => format!("error {}", error_type(body)),
        Some(Outcome::InitError(body)) => {
            return Err(format!("init error: {}", String::from_utf8_lossy(body)));
        }
        None if exited.is_some() => {
            return Err(format!(
                "exited before answering ({})",
                exited.unwrap_or_default()
            ));
        }
        None => return Err(format!("no answer within {timeout:?}")),
    };
    let (Some(next_at), Some(done_at)) = (observed.next_at, observed.done_at) else {
        return Err("answered without fetching the event".into());
    };
    Ok((
        Sample {
            spawn: spawned - started,
            init: next_at - started,
            first_invoke: done_at - started,
            handler: done_at - next_at,
            rss_kib: rss_kib.unwrap_or(usage.max_rss_kib),
            cpu: usage.cpu,
        },
        result,
    ))
}

/// `HTTP <statusCode>` for an API Gateway response, else `ok`.
fn response_summary(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => match value.get("statusCode").and_then(|s| s.as_u64()) {
            Some(code) => format!("HTTP {code}"),
            None => "ok".into(),
        },
        Err(_) => "ok".into(),
    }
}

fn error_type(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "(unparsed)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_answers() {
        assert_eq!(
            response_summary(br#"{"statusCode":201,"body":"{}"}"#),
            "HTTP 201"
        );
        assert_eq!(response_summary(br#"{"ok":true}"#), "ok");
        assert_eq!(response_summary(b"not json"), "ok");
        assert_eq!(error_type(br#"{"errorType":"Timeout"}"#), "Timeout");
        assert_eq!(error_type(b"?"), "(unparsed)");
    }
}
