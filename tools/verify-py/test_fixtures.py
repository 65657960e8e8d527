#!/usr/bin/env python3
"""Runs seclog_verify.py over every fixture of tools/seclog-verify/testdata and checks its verdict
(ok <-> exit 0, fail <-> exit 1) and, for forged fixtures, the reason. Exits non-zero on a failure."""
import hashlib, re, subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "seclog-verify" / "testdata"
ACCOUNT = "acct_evidence"
# The check each forgery is expected to trip (a substring of its FAILED reason).
REASONS = {
    "forged-row-deleted-as-leaf": "a row is missing",
    "forged-row-deleted-null-left": "is marked null in leaves but has no row",
    "forged-filters-narrowed": "do not hash to the checkpoint's root",
    "forged-older-checkpoint": "is not below the checkpoint's size",
    "forged-self-signed": "not signed by the given key",
    "forged-leaves-reordered": "do not hash to the checkpoint's root",
    "forged-size": "is not the checkpoint's size",
    "forged-cell-edited": "CSV row",
    "forged-rows-reordered": "CSV row 1, cell 'Timestamp'",  # CSV order differs from the evidence's
}


def doc_worked_examples():
    """The worked examples of docs/design/integrity.md, read from the doc: leaf data and the signed note."""
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, str(HERE))
    import seclog_verify as v
    doc = (HERE.parents[1] / "docs" / "design" / "integrity.md").read_text()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", doc, re.S | re.M)
    entry = next(b for b in blocks if b.startswith('{"actor":')).rstrip("\n")
    leaf = next(b for b in blocks if b.startswith('{"actor_id":')).rstrip("\n")
    vkey = next(b for b in blocks if re.match(r"security-logs/\S+\+[0-9a-f]{8}\+", b)).strip()
    note = next(b for b in blocks if b.startswith("security-logs/acct_Demo-1\n1\n"))
    sha = re.search(r"`entry_sha256` = `([0-9a-f]{64})`", doc)[1]
    leaf_hash = re.search(r"Leaf hash .*? = `([0-9a-f]{64})`", doc)[1]
    e = v.DEC.decode(entry)
    assert hashlib.sha256(entry.encode()).hexdigest() == sha
    assert v.leaf_text(e["actor"]["id"], sha, e["occurred_at"], e["type"], "unfamiliar" in e) == leaf
    assert v.read_leaf(leaf, 0)[0] == "login.failed" and v.leaf_hash(leaf, "").hex() == leaf_hash
    origin = "security-logs/acct_Demo-1"
    pub, size, root = v.open_checkpoint(note, origin, v.parse_keys(vkey, origin))
    assert size == 1 and root.hex() == leaf_hash == v.tree_root(bytearray(root), 1).hex()
    assert v.utc_text(v.parse_time("2024-04-22T06:32:16.250Z", "t")) == "2024-04-22T06:32:16.25Z"


def main():
    verdicts = dict(line.split() for line in (DATA / "verdicts.txt").read_text().splitlines() if line.strip())
    dirs = sorted(p.name for p in DATA.iterdir() if p.is_dir())
    passed = failed = 0
    for name in dirs:
        run = subprocess.run(
            [sys.executable, str(HERE / "seclog_verify.py"), str(DATA / name / "export.csv"),
             "--evidence", str(DATA / name / "evidence.json"), "--account", ACCOUNT,
             "--key", str(DATA / "platform-key.txt")],
            capture_output=True, text=True)
        out = (run.stdout + run.stderr).strip()
        want = verdicts.get(name)
        ok = (want == "ok" and run.returncode == 0 and out.startswith("OK:")) or (
            want == "fail" and run.returncode == 1 and out.startswith("FAILED:")
            and REASONS.get(name, "FAILED:") in out)
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'pass' if ok else 'FAIL'} {name} (want {want}, exit {run.returncode}): {out.splitlines()[0] if out else ''}")
        for extra in out.splitlines()[1:]:
            print(f"    {extra}")
    try:
        doc_worked_examples()
        passed += 1
        print("pass docs/design/integrity.md worked examples (canonical entry, leaf data, leaf hash, signed note)")
    except Exception as e:  # noqa: BLE001 - any failure of the doc's examples is a test failure
        failed += 1
        print(f"FAIL docs/design/integrity.md worked examples: {e!r}")
    missing = set(verdicts) - set(dirs)
    for name in sorted(missing):
        print(f"FAIL {name}: listed in verdicts.txt, no such directory")
    failed += len(missing)
    print(f"verify-py: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
