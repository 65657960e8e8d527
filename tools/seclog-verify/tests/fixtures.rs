//! The committed fixtures (testdata/README.md): the binary gives each its verdict, the same the
//! independent Python verifier gives (tools/verify-py), so two implementations of
//! docs/design/integrity.md agree on genuine evidence and on every forgery.

use std::path::Path;
use std::process::Command;

#[test]
fn every_fixture_gets_its_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let verdicts = std::fs::read_to_string(dir.join("verdicts.txt")).unwrap();
    let key = dir.join("platform-key.txt");
    let mut checked = 0;
    for line in verdicts.lines() {
        let (name, verdict) = line.split_once(' ').unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_seclog-verify"))
            .arg(dir.join(name).join("export.csv"))
            .arg("--evidence")
            .arg(dir.join(name).join("evidence.json"))
            .args(["--account", "acct_evidence", "--key"])
            .arg(&key)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let expected = if verdict == "ok" { 0 } else { 1 };
        assert_eq!(output.status.code(), Some(expected), "{name}: {text}");
        let prefix = if verdict == "ok" { "OK: " } else { "FAILED: " };
        assert!(text.starts_with(prefix), "{name}: {text}");
        checked += 1;
    }
    assert!(checked >= 10, "{checked} fixtures");
}
