//! Through the service as `make dev` runs it (the dev server's router and the local stack): an
//! export and its evidence downloaded, verified by the offline verifier's binary
//! (`tools/seclog-verify`, exit 0), then tampered with as a person editing the spreadsheet would
//! (exit 1 for each).
//!
//! It lives here rather than in the verifier's crate so that the verifier does not dev-depend on
//! the whole stack: its own tests (`tools/seclog-verify/tests/`) need the pure core only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use integration_tests::{account, event, spawn_app};
use serde_json::json;

/// The verifier's binary: `SECLOG_VERIFY` if set (as `make walkthrough` sets it), else the one
/// in this build's target directory, built first (`cargo build -p seclog-verify`: a test binary
/// only sees its own package's binaries).
fn verifier() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("SECLOG_VERIFY") {
            return PathBuf::from(path);
        }
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "seclog-verify",
                "--bin",
                "seclog-verify",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p seclog-verify: {status}");
        // This test's binary is <target>/<profile>/deps/api-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/");
        profile_dir.join(format!("seclog-verify{}", std::env::consts::EXE_SUFFIX))
    })
}

fn verify(csv: &Path, evidence: &Path, account: &str, keys: &Path) -> (i32, String) {
    let output = Command::new(verifier())
        .arg(csv)
        .args([
            "--evidence",
            evidence.to_str().unwrap(),
            "--account",
            account,
        ])
        .args(["--key", keys.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap(), text)
}

#[tokio::test]
async fn a_downloaded_export_verifies_and_every_tampering_fails() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest((0..8).map(|m| event(&acct, "login", m)).collect())
        .await;
    let id = app
        .request_export(&acct, &json!({"tz": "Asia/Manila"}))
        .await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    let csv = app.fetch(&export["download_url"]).await;
    let evidence = app.fetch(&export["evidence_url"]).await;
    // The platform's keys, as an auditor fetches them: no token.
    let (status, keys) = app.get_with_token("/v1/integrity/public-keys", None).await;
    assert_eq!(status, 200, "{keys}");
    let keys = keys.to_string();

    let dir = tempfile::tempdir().unwrap();
    let evidence_path = dir.path().join("evidence.json");
    let keys_path = dir.path().join("public-keys.json");
    std::fs::write(&evidence_path, &evidence).unwrap();
    std::fs::write(&keys_path, &keys).unwrap();
    let check = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        verify(&path, &evidence_path, &acct, &keys_path)
    };

    let (code, out) = check("genuine.csv", &csv);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("OK: account {acct} (key fingerprint ")),
        "{out}"
    );
    assert!(
        out.contains(&format!("export {id} requested "))
            && out.contains(
                r#"filters {"from":null,"to":null,"types":[],"actor":null,"tz":"Asia/Manila"}"#
            )
            && out.contains("checkpoint size 9 (the request is entry 8); 8 rows"),
        "{out}"
    );

    // The adversary's deletion: row 4 out of the CSV and out of the evidence's rows, its index
    // written as the leaf data anyone can compute from the entry (docs/design/integrity.md).
    let mut evidence_lines: Vec<String> =
        evidence.split_inclusive('\n').map(str::to_owned).collect();
    let rows_open = evidence_lines
        .iter()
        .position(|l| l.starts_with("],\"rows\":["))
        .unwrap();
    let item: serde_json::Value =
        serde_json::from_str(evidence_lines.remove(rows_open + 4).trim_start_matches(',')).unwrap();
    let index = item["index"].as_u64().unwrap() as usize;
    let entry: seclog::domain::LogEntry = serde_json::from_value(item["entry"].clone()).unwrap();
    let leaf = String::from_utf8(
        seclog::integrity::canonical::LeafData::of(&entry)
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    let comma = if index == 0 { "" } else { "," };
    evidence_lines[1 + index] = format!("{comma}{}\n", serde_json::to_string(&leaf).unwrap());
    let forged_evidence = dir.path().join("forged-evidence.json");
    std::fs::write(&forged_evidence, evidence_lines.concat()).unwrap();
    let mut both: Vec<&str> = csv.split_inclusive("\r\n").collect();
    both.remove(4);
    let both_path = dir.path().join("deleted-from-both.csv");
    std::fs::write(&both_path, both.concat()).unwrap();
    let (code, out) = verify(&both_path, &forged_evidence, &acct, &keys_path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!("FAILED: log entry {index}: "))
            && out.contains("a row is missing"),
        "{out}"
    );

    let lines: Vec<&str> = csv.split_inclusive("\r\n").collect();
    let edited = csv.replacen("Alice Merchant", "Mallory", 1);
    let mut deleted = lines.clone();
    deleted.remove(4);
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    let mut forged = lines.clone();
    // A forged row: a copy of a real one from another address, appended.
    let fake = lines[1].replacen("203.0.113.45", "198.51.100.7", 1);
    forged.push(&fake);
    for (name, text, expected) in [
        ("edited.csv", edited, "CSV row 1: cell \"User\""),
        ("deleted.csv", deleted.concat(), "CSV row 4:"),
        ("swapped.csv", swapped.concat(), "CSV row 2:"),
        (
            "forged.csv",
            forged.concat(),
            "CSV row 9: is not an entry of the log",
        ),
    ] {
        let (code, out) = check(name, &text);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.starts_with(&format!("FAILED: {expected}")),
            "{name}: {out}"
        );
    }
}
