#!/usr/bin/env bash
# Idempotently install dynalite 4.0.0 (a fast, strict local DynamoDB; no streams, no
# transactions) into .local/dynalite, for the export benchmark. Prints the binary's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.local/dynalite"
bin="$prefix/node_modules/.bin/dynalite"
if [ ! -x "$bin" ]; then
  echo "installing dynalite 4.0.0 into $prefix ..." >&2
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" dynalite@4.0.0 >&2
fi
echo "$bin"
