#!/usr/bin/env bash
# Run a command against a fresh local server, then stop it, whatever happens.
#
#   infra/with-dev-server.sh CMD [ARGS...]
#
# Builds the dev server (`cargo build -p dev-server`, CARGO_TARGET_DIR respected), starts it on
# $PORT (default: a free loopback port) with its own moto and an in-process S3 under a temporary
# folder, waits until it answers HTTP, runs CMD with API_URL=http://127.0.0.1:$PORT (and
# DEV_SERVER_PID, for tools that signal the server's children: `make faults`, and
# DEV_SERVER_LOG, the server's log, which `make load` reads metrics from), and stops
# the server on exit, Ctrl-C or SIGTERM: SIGTERM first (it stops moto and S3 itself), SIGKILL
# after 10 s (moto, started with PR_SET_PDEATHSIG, dies with it). Exits with CMD's status.
# The server's log is printed when it fails to start, and kept in $DEV_SERVER_LOG if set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ $# -eq 0 ]; then
  echo "usage: infra/with-dev-server.sh CMD [ARGS...]" >&2
  exit 2
fi

infra/venv.sh stack
cargo=${CARGO:-cargo}
# With the workspace's feature set, so `make test` reuses what `cargo test --workspace` built.
"$cargo" build --quiet --workspace --bins --tests
binary="${CARGO_TARGET_DIR:-$root/target}/debug/dev-server"

port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
work=$(mktemp -d "${TMPDIR:-/tmp}/dev-server.XXXXXX")
log=${DEV_SERVER_LOG:-$work/server.log}
server=
command_pid=

stop() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$command_pid" ] && kill -0 "$command_pid" 2>/dev/null; then
    kill -TERM "$command_pid" 2>/dev/null || true
    wait "$command_pid" 2>/dev/null || true
  fi
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$server" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$port S3_DIR="$work/s3" "$binary" >"$log" 2>&1 &
server=$!

url="http://127.0.0.1:$port"
for _ in $(seq 600); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "with-dev-server.sh: the dev server exited before answering; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  if curl -s -o /dev/null --max-time 1 "$url/v1/logs"; then
    break
  fi
  sleep 0.1
done
if ! curl -s -o /dev/null --max-time 1 "$url/v1/logs"; then
  echo "with-dev-server.sh: the dev server did not answer on $url within 60 s; its log:" >&2
  cat "$log" >&2
  exit 1
fi
echo "with-dev-server.sh: dev server on $url (pid $server)" >&2

# In the background, so that a signal to this script is handled at once (see stop).
DEV_SERVER_PID=$server DEV_SERVER_LOG=$log API_URL=$url "$@" &
command_pid=$!
status=0
wait "$command_pid" || status=$?
command_pid=
exit "$status"
