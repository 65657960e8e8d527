//! `seclog-verify EXPORT.csv --evidence EVIDENCE.json --key VERIFIER_KEY [--pinned CHECKPOINT]`
//!
//! Checks, with no network, that every row of a security-logs CSV export is an unchanged entry of
//! the account's tamper-evident log at the evidence's signed checkpoint, in order, and that no
//! entry of that log matching the export's filters is missing; with `--pinned`, also that the
//! log extends a checkpoint saved earlier. `VERIFIER_KEY` is the key text
//! (`security-logs/<account>+<key id>+<key>`) or a file holding it.
//!
//! Exit 0 with a one-line summary; 1 naming the first row or proof that fails; 2 for a usage
//! error (bad arguments, a missing or unreadable file, a malformed key).

use std::fs::File;
use std::process::ExitCode;

use seclog::integrity::evidence::verify;
use seclog::integrity::note::VerifierKey;

const USAGE: &str = "usage: seclog-verify EXPORT.csv --evidence EVIDENCE.json --key VERIFIER_KEY [--pinned CHECKPOINT]";

struct Args {
    csv: String,
    evidence: String,
    key: String,
    pinned: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut csv, mut evidence, mut key, mut pinned) = (None, None, None, None);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--evidence" => &mut evidence,
            "--key" => &mut key,
            "--pinned" => &mut pinned,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => &mut csv,
        };
        if slot.is_some() {
            return Err(format!("{arg} given twice"));
        }
        *slot = Some(if arg.starts_with("--") {
            args.next().ok_or_else(|| format!("{arg} needs a value"))?
        } else {
            arg
        });
    }
    Ok(Args {
        csv: csv.ok_or("the export's CSV file is required")?,
        evidence: evidence.ok_or("--evidence is required")?,
        key: key.ok_or("--key is required")?,
        pinned,
    })
}

/// The key as text, or read from the file it names.
fn read_key(arg: &str) -> Result<VerifierKey, String> {
    if let Ok(key) = VerifierKey::parse(arg.trim()) {
        return Ok(key);
    }
    let text = std::fs::read_to_string(arg)
        .map_err(|e| format!("--key {arg}: neither a verifier key nor a readable file ({e})"))?;
    VerifierKey::parse(text.trim()).map_err(|e| format!("--key {arg}: {e}"))
}

fn open(path: &str) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{path}: {e}"))
}

fn run() -> Result<String, (u8, String)> {
    let usage = |message: String| (2, message);
    let args = parse_args(std::env::args().skip(1)).map_err(|e| {
        usage(if e.is_empty() {
            USAGE.to_owned()
        } else {
            format!("{e}\n{USAGE}")
        })
    })?;
    let key = read_key(&args.key).map_err(usage)?;
    let pinned = args
        .pinned
        .as_deref()
        .map(|path| std::fs::read_to_string(path).map_err(|e| usage(format!("{path}: {e}"))))
        .transpose()?;
    let csv = open(&args.csv).map_err(usage)?;
    let evidence = open(&args.evidence).map_err(usage)?;
    verify(csv, evidence, &key, pinned.as_deref())
        .map(|verified| verified.to_string())
        .map_err(|failure| (1, format!("FAILED: {failure}")))
}

fn main() -> ExitCode {
    match run() {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}
