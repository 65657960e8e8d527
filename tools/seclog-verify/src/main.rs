//! `seclog-verify EXPORT.csv --evidence EVIDENCE.json --account ACCOUNT --key KEY [--pinned CHECKPOINT]`
//!
//! Checks, with no network, that a security-logs CSV export is exactly what its request asked
//! for: every row an unchanged entry of the account's tamper-evident log, in order, and no entry
//! recorded before the request that matches its filters missing. The request (export id,
//! requester, filters, retention) is read from the export's own entry in the signed log, never
//! from the file's header.
//!
//! `KEY` is the platform's published signing key, never one the audited merchant hands over:
//! the base64 public key from `GET /v1/integrity/public-keys` (no token needed) or the docs, a
//! file holding that route's whole answer (every key that ever signed, so exports signed before
//! a rotation still verify), or an account's verifier key text
//! (`security-logs/<account>+<key id>+<key>`). The summary prints the fingerprint of the key
//! that signed, to compare with the published one.
//!
//! Exit 0 with the summary; 1 naming the first row, item or proof that fails; 2 for a usage
//! error (bad arguments, a missing or unreadable file, a malformed key).

use std::fs::File;
use std::process::ExitCode;

use seclog::domain::AccountId;
use seclog::integrity::evidence::verify;
use seclog::integrity::keys::{PublicKeys, parse_public_key};
use seclog::integrity::note::{VerifierKey, origin};

const USAGE: &str = "usage: seclog-verify EXPORT.csv --evidence EVIDENCE.json --account ACCOUNT --key KEY [--pinned CHECKPOINT]
KEY: the platform's public key (base64), a file with GET /v1/integrity/public-keys' answer, or a verifier key";

struct Args {
    csv: String,
    evidence: String,
    account: String,
    key: String,
    pinned: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut csv, mut evidence, mut account, mut key, mut pinned) = (None, None, None, None, None);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--evidence" => &mut evidence,
            "--account" => &mut account,
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
        account: account.ok_or("--account is required: the account being audited")?,
        key: key.ok_or("--key is required: the platform's published key")?,
        pinned,
    })
}

/// The public keys `text` names: one base64 key, a verifier key of the account's log, or the
/// published list.
fn keys_in(text: &str, account: &AccountId) -> Result<Vec<[u8; 32]>, String> {
    let text = text.trim();
    if let Ok(key) = parse_public_key(text) {
        return Ok(vec![key]);
    }
    if let Ok(key) = VerifierKey::parse(text) {
        let name = origin(account);
        if key.name() != name {
            return Err(format!(
                "the verifier key is for {}, not for {name}",
                key.name()
            ));
        }
        return Ok(vec![key.public_key()]);
    }
    let published = PublicKeys::parse(text).map_err(|e| e.to_string())?;
    Ok(published.keys.iter().map(|k| k.key).collect())
}

/// The key as text, or read from the file it names.
fn read_keys(arg: &str, account: &AccountId) -> Result<Vec<[u8; 32]>, String> {
    if !std::path::Path::new(arg).is_file() {
        return keys_in(arg, account).map_err(|e| {
            format!("--key: neither a public key, a verifier key nor a readable file ({e})")
        });
    }
    let text = std::fs::read_to_string(arg).map_err(|e| format!("--key {arg}: {e}"))?;
    let keys = keys_in(&text, account).map_err(|e| format!("--key {arg}: {e}"))?;
    if keys.is_empty() {
        return Err(format!("--key {arg}: the file lists no key"));
    }
    Ok(keys)
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
    let account = AccountId::parse(&args.account).map_err(|e| usage(format!("--account: {e}")))?;
    let keys = read_keys(&args.key, &account).map_err(usage)?;
    let pinned = args
        .pinned
        .as_deref()
        .map(|path| std::fs::read_to_string(path).map_err(|e| usage(format!("{path}: {e}"))))
        .transpose()?;
    let csv = open(&args.csv).map_err(usage)?;
    let evidence = open(&args.evidence).map_err(usage)?;
    verify(csv, evidence, &account, &keys, pinned.as_deref())
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
