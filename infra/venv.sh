#!/usr/bin/env bash
# Idempotently create .venv/<name> from infra/requirements-<name>.txt.
# Re-installs only when the requirements file changed (its hash is stamped in the venv).
set -euo pipefail
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/infra/requirements-$name.txt"
venv="$root/.venv/$name"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up $venv from $(basename "$req") ..." >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
