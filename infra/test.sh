#!/usr/bin/env bash
# `make test` (and so `.ci/run`): every check, in an order that fails fast and keeps both cores busy.
#
# The Python environments and the browser are mostly downloads and unpacking, and compiling is most
# of a fresh clone's time: they are prepared in the background while cargo lints and builds, and
# their output is printed when they finish. Nothing that uses them starts before then. Each step is
# a `make` target of its own, so any of them can be run alone (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}

"$make" --no-print-directory fmt

log=$(mktemp "${TMPDIR:-/tmp}/seclog-environments.XXXXXX")
"$make" --no-print-directory environments browser >"$log" 2>&1 &
environments=$!
trap 'kill "$environments" 2>/dev/null || true; rm -f "$log"' EXIT

"$make" --no-print-directory lint check-core build-tests

environments_status=0
wait "$environments" || environments_status=$?
cat "$log"
if [ "$environments_status" -ne 0 ]; then
  echo "test.sh: preparing the Python environments or the browser failed (above)" >&2
  exit "$environments_status"
fi

"$make" --no-print-directory check-stack unit-and-integration verify-py check-ocsf walkthrough check-links \
  check-template check-openapi fuzz-short load-short faults-short
