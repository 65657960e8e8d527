//! Through the service as `make dev` runs it (the dev server's router and the local stack): an
//! export and its evidence downloaded, verified by this binary (exit 0), then tampered with as a
//! person editing the spreadsheet would (exit 1 for each).

use std::path::Path;
use std::process::Command;

use integration_tests::{account, event, spawn_app};
use serde_json::json;

fn verify(csv: &Path, evidence: &Path, key: &str) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_seclog-verify"))
        .arg(csv)
        .args(["--evidence", evidence.to_str().unwrap(), "--key", key])
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
    let (_, key) = app.get_text(&acct, "/v1/integrity/key").await;

    let dir = tempfile::tempdir().unwrap();
    let evidence_path = dir.path().join("evidence.json");
    std::fs::write(&evidence_path, &evidence).unwrap();
    let check = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        verify(&path, &evidence_path, key.trim_end())
    };

    let (code, out) = check("genuine.csv", &csv);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!(
            "OK: 8 rows, each an unchanged entry of security-logs/{acct} at size 8"
        )),
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
