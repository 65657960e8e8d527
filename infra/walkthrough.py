"""Runs a walk-through (docs/walkthrough.md) and checks each block's promised answer.

    API_URL=http://127.0.0.1:PORT python3 infra/walkthrough.py docs/walkthrough.md

Every ```bash block runs, in order, in one bash process (so variables carry over), in a scratch
folder that sees the repository's `events/`. The HTML comment right after a block says what its
output (stdout and stderr) must show, one check a line:

    contains: TEXT      the output holds TEXT
    lacks: TEXT         it does not
    count N: TEXT       it holds TEXT exactly N times

A block without a comment must only run. Exit 1 with the block, its checks and its output when a
check fails; exit 2 on a malformed file. Standard library only.
"""

import os
import re
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"```bash\n(.*?)```\n(?:<!-- expect\n(.*?)-->\n)?", re.S)
CHECK = re.compile(r"(contains|lacks|count (\d+)): (.*)")
MARK = "\x1ewalkthrough-block-end"
TIMEOUT_SECONDS = 300


def blocks(text):
    """(code, [(kind, count, text)]) for each bash block, in order."""
    found = []
    for match in BLOCK.finditer(text):
        checks = []
        for line in (match.group(2) or "").splitlines():
            if not line.strip():
                continue
            check = CHECK.fullmatch(line.strip())
            if check is None:
                sys.exit(f"walkthrough: unreadable check {line!r}")
            kind = "count" if check.group(1).startswith("count") else check.group(1)
            count = int(check.group(2)) if check.group(2) else None
            checks.append((kind, count, check.group(3)))
        found.append((match.group(1), checks))
    return found


def failures(output, checks):
    wrong = []
    for kind, count, text in checks:
        seen = output.count(text)
        if kind == "contains" and seen == 0:
            wrong.append(f"missing {text!r}")
        elif kind == "lacks" and seen > 0:
            wrong.append(f"unexpected {text!r}")
        elif kind == "count" and seen != count:
            wrong.append(f"{text!r} {seen} times, not {count}")
    return wrong


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: walkthrough.py FILE.md")
    path = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(path, encoding="utf-8") as f:
        found = blocks(f.read())
    if not found:
        sys.exit(f"walkthrough: no bash blocks in {path}")
    script = "exec 2>&1\n"
    for code, _ in found:
        script += f"{code}\nprintf '\\n{MARK}\\n'\n"
    env = dict(os.environ)
    # A tool named relative to the repository still runs from the scratch folder.
    verify = env.get("SECLOG_VERIFY")
    if verify and not os.path.isabs(verify):
        env["SECLOG_VERIFY"] = os.path.join(root, verify)
    with tempfile.TemporaryDirectory() as scratch:
        os.symlink(os.path.join(root, "events"), os.path.join(scratch, "events"))
        ran = subprocess.run(
            ["bash", "-c", script],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    outputs = ran.stdout.split(f"\n{MARK}\n")
    bad = 0
    for number, (code, checks) in enumerate(found, 1):
        output = outputs[number - 1] if number <= len(outputs) - 1 else None
        if output is None:
            wrong = ["the block never finished (an earlier one ended the shell)"]
            output = ""
        else:
            wrong = failures(output, checks)
        if wrong:
            bad += 1
            print(f"walkthrough: block {number} of {path} failed: {'; '.join(wrong)}")
            print("--- block\n" + code.rstrip() + "\n--- output\n" + output.rstrip() + "\n---")
    checks = sum(len(c) for _, c in found)
    print(f"walkthrough: {len(found)} blocks, {checks} checks, {bad} blocks failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
