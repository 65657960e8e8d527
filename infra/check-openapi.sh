#!/usr/bin/env bash
# Validate openapi.yaml against the OpenAPI 3.1 specification (offline). Non-zero on any error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

infra/venv.sh tools
echo "+ .venv/tools/bin/openapi-spec-validator openapi.yaml" >&2
.venv/tools/bin/openapi-spec-validator openapi.yaml
