//! `make bench-evidence`: the size of an export's evidence file and the time and memory
//! `seclog-verify` takes to check it, for exports of 10k, 100k and 1M rows (override with
//! `ROWS=10000,50000`).
//!
//! For each N: a log of N realistic sign-in entries (user agent, IP, location, details, producer)
//! and an export of all of them, the worst case for the verifier (every row is re-rendered and
//! compared, every entry re-hashed). The CSV and the evidence are written by the service's own
//! encoder and `EvidenceWriter`, in parts as the worker writes them; the checkpoint is signed
//! with a local key. Then the release `seclog-verify` binary runs as a child process, and its
//! wall time and peak resident set (`wait4` `ru_maxrss`) are reported.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use dev_server::process::{self, Wait};
use seclog::csv::{CsvEncoder, CsvStart};
use seclog::domain::export::{ExportFilters, ExportJob, ExportRequest};
use seclog::domain::{
    AccountId, Actor, EntryId, EventType, Json, Location, LogEntry, LogFilter, ViewerZone,
};
use seclog::integrity::canonical::LeafData;
use seclog::integrity::evidence::EvidenceWriter;
use seclog::integrity::merkle::{Hash, root};
use seclog::integrity::note::{Checkpoint, LocalSigner, Signer, origin, sign_checkpoint};

const PART: usize = 5 * 1024 * 1024;

fn entry(i: u64) -> LogEntry {
    let at = jiff::Timestamp::from_second(1_700_000_000 + i as i64).expect("time");
    LogEntry {
        id: EntryId::from_stored(format!("01HW3Z9V7Q{i:016}")),
        event_type: if i.is_multiple_of(5) { EventType::LoginFailed } else { EventType::Login },
        occurred_at: at,
        actor: Actor {
            id: format!("u_{}", i % 50),
            name: Some("Alice Merchant".into()),
            email: Some("alice@example.com".into()),
        },
        ip: Some(format!("203.0.{}.{}", (i / 256) % 256, i % 256).parse().expect("ip")),
        user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15".into()),
        device: Some("Safari on macOS".into()),
        location: Some(Location {
            country: Some("PH".into()),
            region: Some("Metro Manila".into()),
            city: Some("Makati".into()),
        }),
        details: Json::parse(r#"{"method":"password","mfa":true}"#).expect("json"),
        summary: "Login from Safari on macOS".into(),
        event_id: Some(format!("evt-{i}")),
        received_at: at,
        producer: Some("arn:aws:sts::123456789012:assumed-role/auth-service/session".into()),
        unfamiliar: None,
        log_index: Some(i),
    }
}

/// Runs a future that never waits (the local signer's).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the local signer never waits"),
    }
}

struct Files {
    csv: PathBuf,
    evidence: PathBuf,
    /// The platform's public key, base64 (as published).
    key: String,
}

const ACCOUNT: &str = "acct_bench";

/// The export's own entry, at index `n`: a request of everything, just after the last entry.
fn request(n: u64, filters: &ExportFilters) -> LogEntry {
    let at = jiff::Timestamp::from_second(1_700_000_000 + n as i64).expect("time");
    let job = ExportJob::new(filters.clone(), "u_admin".into(), at);
    LogEntry {
        event_type: EventType::SecurityLogsExported,
        details: ExportRequest::details(&job, 100 * 365).into(),
        summary: "Security logs exported as CSV".into(),
        producer: Some(seclog::domain::entry::SERVICE_PRODUCER.into()),
        ..entry(n)
    }
}

/// Writes the export of all `n` entries and its evidence into `dir`.
fn write_export(dir: &Path, n: u64) -> std::io::Result<Files> {
    let account = AccountId::parse(ACCOUNT).expect("account");
    let signer = LocalSigner::from_seed(&[1; 32]);
    let filters = ExportFilters {
        filter: LogFilter::default(),
        tz: ViewerZone::parse("Asia/Manila").expect("zone"),
    };
    let request = request(n, &filters);
    let mut hashes: Vec<Hash> = (0..n)
        .map(|i| LeafData::of(&entry(i)).expect("leaf").leaf_hash())
        .collect();
    hashes.push(LeafData::of(&request).expect("leaf").leaf_hash());
    let checkpoint = Checkpoint {
        origin: origin(&account),
        size: n + 1,
        root: root(&hashes),
    };
    drop(hashes);
    let note = ready(sign_checkpoint(&checkpoint, &signer)).expect("signed");

    let files = Files {
        csv: dir.join("export.csv"),
        evidence: dir.join("evidence.json"),
        key: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            signer.public_key(),
        ),
    };
    let mut csv_out = BufWriter::new(File::create(&files.csv)?);
    let mut evidence_out = BufWriter::new(File::create(&files.evidence)?);
    let mut csv = CsvEncoder::new(filters.zone(), CsvStart::Fresh);
    // Every entry is a row, so every `leaves` item is null: the verifier's worst case.
    let mut evidence = EvidenceWriter::start(&note, n + 1, n, &request).expect("canonical");
    for _ in 0..=n {
        evidence.leaf(None).expect("null");
        if evidence.len() >= PART {
            evidence_out.write_all(&evidence.take())?;
        }
    }
    for i in (0..n).rev() {
        let e = entry(i);
        csv.row(&e);
        evidence.row(i, &e).expect("canonical");
        if csv.buffered() >= PART {
            csv_out.write_all(&csv.take())?;
        }
        if evidence.len() >= PART {
            evidence_out.write_all(&evidence.take())?;
        }
    }
    evidence.finish();
    csv_out.write_all(&csv.take())?;
    evidence_out.write_all(&evidence.take())?;
    csv_out.flush()?;
    evidence_out.flush()?;
    Ok(files)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u64> = std::env::var("ROWS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let verifier = std::env::var_os("SECLOG_VERIFY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/release/seclog-verify"
            ))
        });
    println!("| rows | CSV | evidence | evidence bytes per row | verify (s) | verifier peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dir = tempfile::tempdir()?;
        let files = write_export(dir.path(), n)?;
        let started = Instant::now();
        let mut command = Command::new(&verifier);
        command
            .arg(&files.csv)
            .arg("--evidence")
            .arg(&files.evidence)
            .args(["--account", ACCOUNT, "--key", &files.key])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = process::die_with_parent(&mut command).spawn()?;
        let reaped = process::wait4(child.id(), Wait::Block)?.ok_or("wait4 returned no child")?;
        let seconds = started.elapsed().as_secs_f64();
        if !reaped.status.success() {
            return Err(
                format!("seclog-verify failed for {n} rows ({})", reaped.describe()).into(),
            );
        }
        let csv = std::fs::metadata(&files.csv)?.len();
        let evidence = std::fs::metadata(&files.evidence)?.len();
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1048576.0);
        println!(
            "| {n} | {} | {} | {} | {seconds:.2} | {} |",
            mib(csv),
            mib(evidence),
            evidence / n.max(1),
            mib(reaped.usage.max_rss_kib * 1024)
        );
    }
    Ok(())
}
