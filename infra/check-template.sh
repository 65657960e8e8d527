#!/usr/bin/env bash
# Offline checks of template.yaml: cfn-lint, `sam validate --lint`, and plain `sam validate`
# (the SAM translation, which catches mistakes the linters miss, e.g. an AWS_IAM route without
# `EnableIamAuthorizer: true`). Any finding fails the script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

infra/venv.sh checks
bin="$root/.venv/checks/bin"
export SAM_CLI_TELEMETRY=0
# cargo-lambda / zig live in the same venv; keep it first on PATH like the build does.
export PATH="$bin:$PATH"

run() {
  echo "+ $*" >&2
  "$@"
}

run "$bin/cfn-lint" template.yaml
run "$bin/sam" validate --lint --template-file template.yaml

# samconfig.toml sets `validate.lint = true`, which would turn this into a second lint run and skip
# the translation check; point this run at an empty config instead.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'version = 0.1\n' > "$tmp/samconfig.toml"
run "$bin/sam" validate --template-file template.yaml --region us-east-1 --config-file "$tmp/samconfig.toml"

echo "template.yaml: all checks passed" >&2
