#!/usr/bin/env bash
# Property-based fuzzing of a running server against openapi.yaml with schemathesis: every check,
# schema-valid and schema-invalid data, every phase (examples, coverage, fuzzing, stateful).
#
#   infra/fuzz.sh [--short|--long] [--url URL]
#
#   --short  a few hundred requests, fixed seed, well under 2 minutes (part of `make test`):
#            phases examples, fuzzing and stateful
#   --long   at least 10,000 requests, random seed (`make fuzz`); the default: also the
#            coverage phase (boundary values of every keyword: each time zone, each length bound)
#   --url    the server (default: $API_URL, else http://127.0.0.1:3000)
#
# Environment: FUZZ_SEED (fix the seed), FUZZ_MAX_EXAMPLES (cases per operation and phase),
# FUZZ_TOKEN / FUZZ_PEER_TOKEN (bearer tokens of the two dashboard identities; default: unsigned
# local tokens for the accounts `acct_fuzz` and `acct_fuzz_peer`), FUZZ_REPORT_DIR (where the
# reports go; default: a new temporary folder, kept), FUZZ_SIGV4_ACCESS_KEY /
# FUZZ_SIGV4_SECRET_KEY / FUZZ_SIGV4_REGION (ingest signing; default local / local / us-east-1).
# Ingest requests are SigV4-signed by infra/fuzz/hooks.py; settings are in
# infra/fuzz/schemathesis.toml.
#
# Ends with one line, `fuzz: N requests, F failures, S server errors (...)`, and exits non-zero
# when schemathesis found anything or any response was a 5xx.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=long
url=${API_URL:-http://127.0.0.1:3000}
while [ $# -gt 0 ]; do
  case $1 in
    --short) mode=short ;;
    --long) mode=long ;;
    --url) url=${2:?--url needs a value}; shift ;;
    --url=*) url=${1#--url=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
url=${url%/}

infra/venv.sh fuzz
py=.venv/fuzz/bin/python

# The server must answer before anything is generated (any HTTP status will do).
if ! curl -s -o /dev/null --max-time 5 "$url/v1/logs"; then
  echo "fuzz.sh: nothing answers at $url (start it with \`make dev\`, or use infra/with-dev-server.sh)" >&2
  exit 1
fi

# Unsigned local tokens (the dev server reads claims without checking signatures).
token() {
  "$py" -c '
import base64, json, sys
part = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=").decode()
print(part({"alg": "none", "typ": "JWT"}) + "." + part({"account_id": sys.argv[1], "sub": sys.argv[2], "name": sys.argv[3]}) + ".local")' "$@"
}
FUZZ_TOKEN=${FUZZ_TOKEN:-$(token acct_fuzz u_fuzz "Fuzz Tester")}
FUZZ_PEER_TOKEN=${FUZZ_PEER_TOKEN:-$(token acct_fuzz_peer u_peer "Peer Tester")}
export FUZZ_TOKEN
export SCHEMATHESIS_HOOKS="$root/infra/fuzz/hooks.py"

case $mode in
  # The coverage phase alone sends ~1,800 requests (every enum value, every bound): long only.
  short) examples=${FUZZ_MAX_EXAMPLES:-40}; seed=${FUZZ_SEED:-20261127}
         phases=examples,fuzzing,stateful ;;
  long) examples=${FUZZ_MAX_EXAMPLES:-900}; seed=${FUZZ_SEED:-}
        phases=examples,coverage,fuzzing,stateful ;;
esac

reports=${FUZZ_REPORT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$mode.XXXXXX")}
mkdir -p "$reports"
# The two dashboard identities (schemathesis.toml, [auth.wfc]).
export FUZZ_IDENTITIES="$reports/identities.json"
"$py" -c '
import json, sys
users = [("fuzz", sys.argv[2]), ("peer", sys.argv[3])]
auth = [{"name": n, "fixedHeaders": [{"name": "Authorization", "value": "Bearer " + t}]} for n, t in users]
json.dump({"schemaVersion": "0.1.0", "auth": auth}, open(sys.argv[1], "w"), indent=2)' \
  "$FUZZ_IDENTITIES" "$FUZZ_TOKEN" "$FUZZ_PEER_TOKEN"

args=(
  --config-file infra/fuzz/schemathesis.toml
  run openapi.yaml
  --url "$url"
  --checks all
  --mode all
  --phases "$phases"
  --max-examples "$examples"
  --continue-on-failure
  --report junit,ndjson,json
  --report-dir "$reports"
  --no-color
)
[ -n "$seed" ] && args+=(--seed "$seed")

echo "+ st ${args[*]}" >&2
status=0
.venv/fuzz/bin/st "${args[@]}" || status=$?

echo "reports: $reports" >&2
summary=0
"$py" infra/fuzz/summary.py "$reports" || summary=$?
if [ "$status" -ne 0 ] || [ "$summary" -ne 0 ]; then
  exit 1
fi
