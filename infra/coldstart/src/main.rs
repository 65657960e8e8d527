//! `coldstart`: how fast each function's release binary starts, as Lambda starts it.
//!
//! For every crate in `functions/*` it executes the built binary (`target/lambda/release/<name>`
//! by default) with a Lambda-like environment pointing at a local Runtime API (this process)
//! and at a local moto (DynamoDB), serves it one event (`events/<name>.json`), and measures:
//!
//! - init: exec -> the binary's first `GET /runtime/invocation/next`,
//! - first invoke: exec -> its `POST /runtime/invocation/{id}/response` (or `/error`),
//! - peak RSS (VmHWM just before the binary is killed) and CPU time (user + system),
//!
//! over N runs (after one discarded warm-up run), plus the size of the binary that ships as
//! `bootstrap`. Everything it starts (moto, the binaries) is stopped before it exits.

mod functions;
mod runtime_api;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use dev_server::LocalStack;
use seclog::config::vars;
use seclog::store::{aws, schema};

use functions::{EventSource, Function};
use runtime_api::{Invocation, Outcome, RuntimeApi};

const EVENTS_TABLE: &str = "coldstart-events";
const EXPORTS_TABLE: &str = "coldstart-exports";
const EXPORTS_BUCKET: &str = "coldstart-exports";
const CURSOR_SECRET: &str = "coldstart-cursor-key";
const INIT_GOAL: Duration = Duration::from_millis(15);
const SIZE_GOAL: u64 = 8_000_000;

const USAGE: &str = "\
usage: coldstart [options]

Runs every function in functions/* (or --only) N times as Lambda would start it and prints
init / first-invoke time, peak RSS, CPU time and binary size per function.
Build the binaries first: CARGO_TARGET_DIR=target/lambda cargo build --release -p <function>...

options:
  --runs N            measured runs per function (default 20)
  --warmup N          discarded runs before them (default 1)
  --only a,b          only these functions
  --bin-dir DIR       where the release binaries are (default $CARGO_TARGET_DIR/release,
                      else <workspace>/target/lambda/release)
  --event NAME=FILE   event for function NAME (default events/NAME.json, else a minimal
                      API Gateway v2 event)
  --env KEY=VALUE     extra environment for every function (repeatable), e.g. RUST_LOG=off
  --memory MB         AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 256, as template.yaml)
  --timeout SECS      per-run limit (default 30)
  --strict            exit 1 when a goal (init median <= 15 ms, bootstrap <= 8 MB) is missed
  --root DIR          workspace root (default: the one this tool was built from)
  --wrap 'CMD ARGS'   run each binary under CMD (for profiling, e.g. 'strace -f -ttt -o /tmp/s');
                      RSS and CPU then describe CMD and its children
";

struct Options {
    runs: usize,
    warmup: usize,
    only: Option<Vec<String>>,
    bin_dir: Option<PathBuf>,
    events: BTreeMap<String, PathBuf>,
    env: Vec<(String, String)>,
    memory: u32,
    timeout: Duration,
    strict: bool,
    root: PathBuf,
    wrap: Vec<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        runs: 20,
        warmup: 1,
        only: None,
        bin_dir: None,
        events: BTreeMap::new(),
        env: Vec::new(),
        memory: 256,
        timeout: Duration::from_secs(30),
        strict: false,
        root: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")),
        wrap: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let pair = |text: String| {
            text.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("expected NAME=VALUE, got {text:?}"))
        };
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text:?}: {e}"));
        match arg.as_str() {
            "--runs" => options.runs = number(value(&arg)?)?.max(1) as usize,
            "--warmup" => options.warmup = number(value(&arg)?)? as usize,
            "--only" => options.only = Some(value(&arg)?.split(',').map(str::to_string).collect()),
            "--bin-dir" => options.bin_dir = Some(value(&arg)?.into()),
            "--event" => {
                let (name, file) = pair(value(&arg)?)?;
                options.events.insert(name, file.into());
            }
            "--env" => options.env.push(pair(value(&arg)?)?),
            "--memory" => options.memory = number(value(&arg)?)? as u32,
            "--timeout" => options.timeout = Duration::from_secs(number(value(&arg)?)?),
            "--strict" => options.strict = true,
            "--root" => options.root = value(&arg)?.into(),
            "--wrap" => {
                options.wrap = value(&arg)?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    options.root = options
        .root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", options.root.display()))?;
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("coldstart: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("coldstart: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Where the functions run: the local Runtime API, the local AWS endpoint, the cursor secret.
struct Stack<'a> {
    api_address: &'a str,
    endpoint: &'a str,
    cursor_secret: &'a str,
}

/// One function's measured runs.
struct Report {
    function: Function,
    size: u64,
    stripped: Option<bool>,
    samples: Vec<Sample>,
    failures: Vec<String>,
    results: BTreeMap<String, usize>,
    event: EventSource,
}

struct Sample {
    spawn: Duration,
    init: Duration,
    first_invoke: Duration,
    handler: Duration,
    rss_kib: u64,
    cpu: Duration,
}

fn run(options: &Options) -> Result<ExitCode, String> {
    let root = &options.root;
    let bin_dir = match &options.bin_dir {
        Some(dir) => dir.clone(),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir).join("release"),
            None => root.join("target/lambda/release"),
        },
    };
    let bin_dir = if bin_dir.is_absolute() {
        bin_dir
    } else {
        root.join(bin_dir)
    };
    let mut selected = functions::discover(root).map_err(|e| format!("functions/: {e}"))?;
    if let Some(only) = &options.only {
        for name in only {
            if !selected.iter().any(|f| &f.name == name) {
                return Err(format!("no function crate named {name:?} in functions/"));
            }
        }
        selected.retain(|f| only.contains(&f.name));
    }
    if selected.is_empty() {
        return Err("no function crates found in functions/".into());
    }
    let missing: Vec<_> = selected
        .iter()
        .filter(|f| !bin_dir.join(&f.binary).is_file())
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        let packages: Vec<_> = missing.iter().map(|m| format!("-p {m}")).collect();
        return Err(format!(
            "no release binary in {} for: {}\nbuild them first: CARGO_TARGET_DIR={} cargo build --release {}",
            bin_dir.display(),
            missing.join(", "),
            bin_dir.parent().unwrap_or(&bin_dir).display(),
            packages.join(" ")
        ));
    }
    let log_dir = bin_dir.parent().unwrap_or(&bin_dir).join("coldstart-logs");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;

    eprintln!("starting the local stack (moto) ...");
    let stack = LocalStack::start(0).map_err(|e| format!("local stack: {e}"))?;
    let endpoint = stack.dynamodb_endpoint.clone();
    let cursor_secret = runtime.block_on(async {
        let config = aws::local(&endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        schema::create_events_table(&dynamodb, EVENTS_TABLE)
            .await
            .map_err(|e| format!("create {EVENTS_TABLE}: {e}"))?;
        schema::create_streamed_table(&dynamodb, EXPORTS_TABLE)
            .await
            .map_err(|e| format!("create {EXPORTS_TABLE}: {e}"))?;
        dev_server::secrets::create_cursor_secret(&config, CURSOR_SECRET)
            .await
            .map_err(|e| format!("create secret {CURSOR_SECRET}: {e}"))
    })?;
    create_bucket(&endpoint, EXPORTS_BUCKET).map_err(|e| format!("create bucket: {e}"))?;

    let api = RuntimeApi::new();
    let api_address = runtime
        .block_on(api.serve())
        .map_err(|e| format!("runtime API: {e}"))?;
    eprintln!(
        "local stack {endpoint}, runtime API {api_address}, binaries {}",
        bin_dir.display()
    );

    let mut reports = Vec::new();
    for function in &selected {
        let report = bench_function(
            options,
            &api,
            &Stack {
                api_address: &api_address.to_string(),
                endpoint: &endpoint,
                cursor_secret: &cursor_secret,
            },
            &bin_dir,
            &log_dir,
            function,
        )?;
        reports.push(report);
    }
    drop(stack);
    runtime.shutdown_timeout(Duration::from_secs(1));

    print_table(options, &reports, &log_dir);
    let failed = reports.iter().any(|r| !r.failures.is_empty());
    let missed = reports.iter().any(|r| !meets_goals(r));
    Ok(if failed || (options.strict && missed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn bench_function(
    options: &Options,
    api: &Arc<RuntimeApi>,
    stack: &Stack<'_>,
    bin_dir: &Path,
    log_dir: &Path,
    function: &Function,
) -> Result<Report, String> {
    let binary = bin_dir.join(&function.binary);
    let size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    let stripped = functions::has_symtab(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .map(|symtab| !symtab);
    let event_source = match options.events.get(&function.name) {
        Some(path) => EventSource::File(options.root.join(path)),
        None => functions::event_for(&options.root, &function.name),
    };
    let event = match &event_source {
        EventSource::File(path) => {
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        EventSource::Fallback => functions::minimal_http_event(),
    };
    let event = Bytes::from(event);
    let log_path = log_dir.join(format!("{}.log", function.name));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let env = lambda_env(options, function, stack);
    eprintln!(
        "{}: {} warm-up + {} runs, event {}",
        function.name, options.warmup, options.runs, event_source
    );

    let mut report = Report {
        function: function.clone(),
        size,
        stripped,
        samples: Vec::new(),
        failures: Vec::new(),
        results: BTreeMap::new(),
        event: event_source,
    };
    for index in 0..options.warmup + options.runs {
        let warmup = index < options.warmup;
        let request_id = format!("coldstart-{}-{index:04}", function.name);
        api.begin(Invocation {
            request_id,
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                function.name
            ),
            event: event.clone(),
            timeout: Duration::from_secs(10),
        });
        match run_once(
            api,
            &options.wrap,
            &binary,
            bin_dir,
            &env,
            &log,
            options.timeout,
        ) {
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

/// The environment Lambda gives a `provided.al2023` function, plus the template's variables.
fn lambda_env(options: &Options, function: &Function, stack: &Stack<'_>) -> Vec<(String, String)> {
    let Stack {
        api_address,
        endpoint,
        cursor_secret,
    } = *stack;
    let name = function.name.as_str();
    let mut env: Vec<(String, String)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("_HANDLER", "bootstrap"),
        ("AWS_LAMBDA_RUNTIME_API", api_address),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "coldstart"),
        ("AWS_SECRET_ACCESS_KEY", "coldstart"),
        ("AWS_SESSION_TOKEN", "coldstart"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("RUST_LOG", "info"),
        // The functions' own settings, by the names `seclog::config` reads.
        (vars::EVENTS_TABLE, EVENTS_TABLE),
        (vars::EXPORTS_TABLE, EXPORTS_TABLE),
        (vars::EXPORTS_BUCKET, EXPORTS_BUCKET),
        (vars::CURSOR_KEY_SECRET_ID, cursor_secret),
        (vars::ACCOUNT_CLAIM, "account_id"),
        (vars::RETENTION_DAYS, "365"),
        (vars::EXPORT_EXPIRY_DAYS, "7"),
        (vars::DOWNLOAD_URL_TTL_SECONDS, "900"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push((
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
        options.memory.to_string(),
    ));
    env.push((
        "AWS_LAMBDA_LOG_GROUP_NAME".into(),
        format!("/aws/lambda/{name}"),
    ));
    env.push((
        "LAMBDA_TASK_ROOT".into(),
        options.root.display().to_string(),
    ));
    for (key, value) in &options.env {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    env
}

/// Executes the binary once, serves it the armed invocation, measures and kills it.
fn run_once(
    api: &Arc<RuntimeApi>,
    wrap: &[String],
    binary: &Path,
    cwd: &Path,
    env: &[(String, String)],
    log: &File,
    timeout: Duration,
) -> Result<(Sample, String), String> {
    let mut command = match wrap.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log.try_clone().map_err(|e| e.to_string())?);
    // SAFETY: prctl and setpgid are async-signal-safe. The child dies with this thread (main),
    // so an interrupted benchmark leaves no function process behind; its own process group
    // lets the kill reach whatever it started too (a --wrap tool and the binary under it).
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("exec {}: {e}", binary.display()))?;
    let spawned = Instant::now();
    let mut process = Process::new(child.id() as i32);
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

/// A child tracked by pid, reaped with `wait4` so its resource usage is not lost.
struct Process {
    pid: i32,
    reaped: Option<(i32, Usage)>,
}

#[derive(Default, Clone, Copy)]
struct Usage {
    cpu: Duration,
    max_rss_kib: u64,
}

impl Process {
    fn new(pid: i32) -> Self {
        Self { pid, reaped: None }
    }

    fn reap(&mut self, flags: i32) -> bool {
        if self.reaped.is_some() {
            return true;
        }
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = unsafe { libc::wait4(self.pid, &mut status, flags, &mut usage) };
        if pid != self.pid {
            return false;
        }
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        self.reaped = Some((
            status,
            Usage {
                cpu: time(usage.ru_utime) + time(usage.ru_stime),
                max_rss_kib: usage.ru_maxrss as u64,
            },
        ));
        true
    }

    fn alive(&mut self) -> bool {
        !self.reap(libc::WNOHANG)
    }

    /// SIGINT to the process group, then wait up to `grace` for the child to exit.
    fn interrupt(&mut self, grace: Duration) {
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-self.pid, libc::SIGINT) };
        let deadline = Instant::now() + grace;
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// VmHWM (peak resident set) from /proc, while the process still exists.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGKILL (as Lambda ends a sandbox) and reap; returns the exit status if it had exited
    /// on its own before the kill.
    fn kill_and_reap(&mut self) -> (Option<String>, Usage) {
        let exited_before = if self.reaped.is_some() {
            // Whatever it started may still run in its group.
            // SAFETY: signalling the process group our child led.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            self.reaped.map(|(status, _)| describe_status(status))
        } else {
            // SAFETY: signalling our own, not yet reaped, child's process group.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            self.reap(0);
            None
        };
        (
            exited_before,
            self.reaped.map(|(_, usage)| usage).unwrap_or_default(),
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            // SAFETY: as above.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            self.reap(0);
        }
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    }
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

/// moto serves S3 on the same port; an unsigned path-style PUT creates a bucket.
fn create_bucket(endpoint: &str, bucket: &str) -> std::io::Result<()> {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "PUT /{bucket} answered {:?}",
            answer.lines().next().unwrap_or("")
        )))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (min, median, max) of the values.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (values[0], median, values[n - 1])
}

fn median_init(report: &Report) -> Option<Duration> {
    if report.samples.is_empty() {
        return None;
    }
    let (_, median, _) = spread(report.samples.iter().map(|s| ms(s.init)).collect());
    Some(Duration::from_secs_f64(median / 1000.0))
}

fn meets_goals(report: &Report) -> bool {
    report.size <= SIZE_GOAL && median_init(report).is_some_and(|m| m <= INIT_GOAL)
}

fn print_table(options: &Options, reports: &[Report], log_dir: &Path) {
    let triple = |(a, b, c): (f64, f64, f64), digits: usize| {
        format!("{a:.digits$} / {b:.digits$} / {c:.digits$}")
    };
    let rows: Vec<[String; 9]> = reports
        .iter()
        .map(|r| {
            let samples = &r.samples;
            let pick = |f: fn(&Sample) -> f64| spread(samples.iter().map(f).collect());
            let stripped = match r.stripped {
                Some(true) => "",
                Some(false) => " (not stripped)",
                None => " (not ELF64)",
            };
            [
                r.function.name.clone(),
                format!("{}", samples.len()),
                triple(pick(|s| ms(s.init)), 1),
                format!("{:.1}", pick(|s| ms(s.spawn)).1),
                triple(pick(|s| ms(s.first_invoke)), 1),
                format!("{:.1}", pick(|s| ms(s.handler)).1),
                triple(pick(|s| s.rss_kib as f64 / 1024.0), 1),
                format!("{:.1}", pick(|s| ms(s.cpu)).1),
                format!("{:.2} MB{stripped}", r.size as f64 / 1e6),
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
    println!();
    for report in reports {
        let name = &report.function.name;
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
        let key_reads = functions::logged_micros(
            &log_dir.join(format!("{name}.log")),
            "cursor signing key loaded",
        );
        if !key_reads.is_empty() {
            let (min, median, max) = spread(key_reads.iter().map(|us| *us as f64 / 1e3).collect());
            println!(
                "{name}: cursor signing key read from Secrets Manager in {min:.1} / {median:.1} / {max:.1} ms \
                 (min/med/max of {} reads; started in the background at init, awaited by the first request)",
                key_reads.len()
            );
        }
        let init = median_init(report);
        let init_ok = init.is_some_and(|m| m <= INIT_GOAL);
        let size_ok = report.size <= SIZE_GOAL;
        println!(
            "{name}: init median {} (goal <= {} ms): {}; bootstrap {:.2} MB (goal <= {} MB): {}",
            init.map_or("n/a".into(), |d| format!("{:.1} ms", ms(d))),
            INIT_GOAL.as_millis(),
            if init_ok { "ok" } else { "MISSED" },
            report.size as f64 / 1e6,
            SIZE_GOAL / 1_000_000,
            if size_ok { "ok" } else { "MISSED" },
        );
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
}
