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
//! `bootstrap`. With `ingest` it measures its Python peer the same way ([`peer`]) and prints
//! the ratios. Everything it starts (moto, the binaries) is stopped before it exits.
//!
//! Modules, one job each: [`options`] (the command line), [`functions`] (which functions
//! exist, their events and binaries), [`stack`] (moto and the Lambda environment),
//! [`runtime_api`] (the local Runtime API), [`runs`] (one subject's runs), [`process`]
//! (spawn, measure, kill, reap), [`stats`] (min / median / max), [`report`] (the table and
//! the goal and ratio lines), [`peer`] (the Python peer); this file puts them together.

mod functions;
mod options;
mod peer;
mod process;
mod report;
mod runs;
mod runtime_api;
mod stack;
mod stats;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use functions::{EventSource, Function};
use options::Options;
use peer::Peer;
use report::Kind;
use runs::Subject;
use runtime_api::RuntimeApi;
use stack::Stack;

fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
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

fn run(options: &Options) -> Result<ExitCode, String> {
    let root = &options.root;
    let bin_dir = options.bin_dir();
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
    let peer = if options.peer && selected.iter().any(|f| f.name == peer::OF) {
        Some(Peer::locate(options)?)
    } else {
        None
    };
    let log_dir = bin_dir.parent().unwrap_or(&bin_dir).join("coldstart-logs");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;

    eprintln!("starting the local stack (moto) ...");
    let (moto, endpoint, cursor_secret, streams) = stack::start(&runtime)?;
    let api = RuntimeApi::new();
    let api_address = runtime
        .block_on(api.serve())
        .map_err(|e| format!("runtime API: {e}"))?;
    eprintln!(
        "local stack {endpoint}, runtime API {api_address}, binaries {}",
        bin_dir.display()
    );
    let stack = Stack {
        api_address: api_address.to_string(),
        endpoint,
        cursor_secret,
        streams,
    };

    let mut reports = Vec::new();
    for function in &selected {
        let subject = function_subject(options, &stack, &bin_dir, function)?;
        reports.push(runs::bench(options, &api, subject, &log_dir)?);
        // The peer right after the function it is compared with, on a machine as busy.
        if let Some(peer) = peer.as_ref().filter(|_| function.name == peer::OF) {
            reports.push(runs::bench(
                options,
                &api,
                peer.subject(options, &stack),
                &log_dir,
            )?);
        }
    }
    drop(moto);
    runtime.shutdown_timeout(Duration::from_secs(1));

    report::print(options, &reports, &log_dir);
    let failed = reports.iter().any(|r| !r.failures.is_empty());
    let missed = reports.iter().any(|r| !r.meets_goals());
    Ok(if failed || (options.strict && missed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A function's release binary, run from the binaries' directory with `_HANDLER=bootstrap`.
fn function_subject(
    options: &Options,
    stack: &Stack,
    bin_dir: &Path,
    function: &Function,
) -> Result<Subject, String> {
    let binary = bin_dir.join(&function.binary);
    let size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    let stripped = functions::has_symtab(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .map(|symtab| !symtab);
    let event = match options.events.get(&function.name) {
        Some(path) => EventSource::File(options.root.join(path)),
        None => functions::event_for(&options.root, &function.name),
    };
    Ok(Subject {
        name: function.name.clone(),
        env: stack::lambda_env(options, &function.name, "bootstrap", &options.root, stack),
        program: binary,
        args: Vec::new(),
        cwd: bin_dir.to_path_buf(),
        event,
        kind: Kind::Function { size, stripped },
    })
}
