//! The binary as an auditor runs it: files on disk, exit codes, the one-line answer.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::Command;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use seclog::csv::{CsvEncoder, CsvStart};
use seclog::domain::export::{ExportFilters, ExportJob, ExportRequest};
use seclog::domain::{AccountId, Actor, EntryId, EventType, Json, LogEntry, LogFilter, ViewerZone};
use seclog::integrity::canonical::LeafData;
use seclog::integrity::evidence::EvidenceWriter;
use seclog::integrity::merkle::root;
use seclog::integrity::note::{
    Checkpoint, LocalSigner, Signer, VerifierKey, origin, sign_checkpoint,
};

fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the local signer never waits"),
    }
}

fn signer() -> LocalSigner {
    LocalSigner::from_seed(&[8; 32])
}

/// Writes an export of three sign-ins (all of the log before its request), its evidence, the
/// account's verifier key, and a checkpoint pinned at size 2, into `dir`.
fn write_export(dir: &Path) -> (PathBuf, PathBuf, String, PathBuf) {
    let account = AccountId::parse("acct_cli").unwrap();
    let signer = signer();
    let key = VerifierKey::new(&origin(&account), &signer.public_key()).unwrap();
    let requested_at = jiff::Timestamp::from_second(1_713_770_000).unwrap();
    let mut log: Vec<LogEntry> = (0..3)
        .map(|i| LogEntry {
            id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P6R7S8T{i:02}")),
            event_type: EventType::Login,
            occurred_at: jiff::Timestamp::from_second(1_713_767_535 + i * 60).unwrap(),
            actor: Actor {
                id: "u_1".into(),
                name: Some("Alice".into()),
                email: None,
            },
            ip: None,
            user_agent: None,
            device: Some("Chrome on Windows".into()),
            location: None,
            details: Json::parse("{}").unwrap(),
            summary: format!("Login {i}"),
            event_id: None,
            received_at: jiff::Timestamp::from_second(1_713_770_000 + i).unwrap(),
            producer: Some("arn:aws:iam::123456789012:role/auth".into()),
            unfamiliar: None,
            log_index: Some(i as u64),
        })
        .collect();
    let filters = ExportFilters {
        filter: LogFilter::default(),
        tz: ViewerZone::utc(),
    };
    let job = ExportJob::new(filters.clone(), "u_admin".into(), requested_at);
    let request = LogEntry {
        id: EntryId::from_stored("01HW3Z9V7Q4M8K2N5P6R7S8T03".into()),
        event_type: EventType::SecurityLogsExported,
        occurred_at: requested_at,
        actor: Actor {
            id: "u_admin".into(),
            name: None,
            email: None,
        },
        details: ExportRequest::details(&job, 365).into(),
        summary: "Security logs exported as CSV".into(),
        producer: Some(seclog::domain::entry::SERVICE_PRODUCER.into()),
        device: None,
        log_index: Some(3),
        ..log[0].clone()
    };
    log.push(request.clone());
    let hashes: Vec<_> = log
        .iter()
        .map(|e| LeafData::of(e).unwrap().leaf_hash())
        .collect();
    let sign = |size: usize| {
        let checkpoint = Checkpoint {
            origin: origin(&account),
            size: size as u64,
            root: root(&hashes[..size]),
        };
        ready(sign_checkpoint(&checkpoint, &signer)).unwrap()
    };
    let mut csv = CsvEncoder::new(filters.zone(), CsvStart::Fresh);
    let mut evidence = EvidenceWriter::start(&sign(4), 4, 3, &request).unwrap();
    for _ in 0..4 {
        evidence.leaf(None).unwrap();
    }
    for (i, entry) in log[..3].iter().enumerate().rev() {
        csv.row(entry);
        evidence.row(i as u64, entry).unwrap();
    }
    evidence.finish();
    let paths = (
        dir.join("export.csv"),
        dir.join("evidence.json"),
        dir.join("pinned.txt"),
    );
    std::fs::write(&paths.0, csv.take()).unwrap();
    std::fs::write(&paths.1, evidence.take()).unwrap();
    std::fs::write(&paths.2, sign(2)).unwrap();
    (paths.0, paths.1, key.to_string(), paths.2)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_seclog-verify"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seclog-verify-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_genuine_export_exits_0_with_a_summary_and_an_edited_one_exits_1() {
    let dir = temp_dir("genuine");
    let (csv, evidence, key, pinned) = write_export(&dir);
    let (csv, evidence, pinned) = (
        csv.to_str().unwrap(),
        evidence.to_str().unwrap(),
        pinned.to_str().unwrap(),
    );
    let public_key = STANDARD.encode(signer().public_key());
    let (code, out, err) = run(&[
        csv,
        "--evidence",
        evidence,
        "--account",
        "acct_cli",
        "--key",
        &public_key,
        "--pinned",
        pinned,
    ]);
    assert_eq!(code, 0, "{err}");
    let fingerprint = seclog::integrity::keys::fingerprint(&signer().public_key());
    assert!(
        out.starts_with(&format!(
            "OK: account acct_cli (key fingerprint {fingerprint}): export "
        )),
        "{out}"
    );
    assert!(
        out.contains("by u_admin, filters ")
            && out.contains("checkpoint size 4 (the request is entry 3); 3 rows")
            && out.contains("pinned checkpoint of size 2"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);

    // The account's verifier key, a file holding it, and a file of the published keys work
    // the same.
    let key_file = dir.join("key.txt");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let published = dir.join("public-keys.json");
    std::fs::write(
        &published,
        format!(
            r#"{{"keys":[{{"key":"{public_key}","fingerprint":"{fingerprint}","from":"2024-01-01T00:00:00Z","until":null}}]}}"#
        ),
    )
    .unwrap();
    for key in [
        key.as_str(),
        key_file.to_str().unwrap(),
        published.to_str().unwrap(),
    ] {
        let (code, _, err) = run(&[
            csv,
            "--evidence",
            evidence,
            "--account",
            "acct_cli",
            "--key",
            key,
        ]);
        assert_eq!(code, 0, "{key}: {err}");
    }
    // Another account's evidence, or a verifier key of another account, is refused.
    let (code, _, err) = run(&[
        csv,
        "--evidence",
        evidence,
        "--account",
        "acct_other",
        "--key",
        &public_key,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not signed for account acct_other"), "{err}");
    let (code, _, err) = run(&[
        csv,
        "--evidence",
        evidence,
        "--account",
        "acct_other",
        "--key",
        &key,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "the verifier key is for security-logs/acct_cli, not for security-logs/acct_other"
        ),
        "{err}"
    );

    let edited = std::fs::read_to_string(csv)
        .unwrap()
        .replace("Login 1", "Login 9");
    let edited_path = dir.join("edited.csv");
    std::fs::write(&edited_path, edited).unwrap();
    let (code, out, err) = run(&[
        edited_path.to_str().unwrap(),
        "--evidence",
        evidence,
        "--account",
        "acct_cli",
        "--key",
        &key,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with("FAILED: CSV row 2: cell \"Details\""),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    const A: &str = "acct_cli";
    let dir = temp_dir("usage");
    let (csv, evidence, key, _) = write_export(&dir);
    let (csv, evidence) = (csv.to_str().unwrap(), evidence.to_str().unwrap());
    for args in [
        vec![],
        vec![csv],
        vec![csv, "--evidence", evidence],
        vec![csv, "--evidence", evidence, "--key", &key],
        vec![csv, "--evidence", evidence, "--account", A, "--key"],
        vec![
            csv,
            "--evidence",
            evidence,
            "--account",
            "bad account",
            "--key",
            &key,
        ],
        vec![
            csv,
            "--evidence",
            evidence,
            "--account",
            A,
            "--key",
            &key,
            "--bogus",
            "x",
        ],
        vec![
            "missing.csv",
            "--evidence",
            evidence,
            "--account",
            A,
            "--key",
            &key,
        ],
        vec![
            csv,
            "--evidence",
            "missing.json",
            "--account",
            A,
            "--key",
            &key,
        ],
        vec![
            csv,
            "--evidence",
            evidence,
            "--account",
            A,
            "--key",
            "not-a-key",
        ],
        vec![
            csv,
            "--evidence",
            evidence,
            "--account",
            A,
            "--key",
            &key,
            "--pinned",
            "missing.txt",
        ],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty());
    }
}
