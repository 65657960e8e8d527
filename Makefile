# The two commands: `make dev` runs the service locally, `make test` runs every check.
# Each target installs what it needs (pinned Python tools in .venv/), idempotently.

SHELL := /bin/bash
CARGO ?= cargo
export SAM_CLI_TELEMETRY := 0

.PHONY: dev test venv fmt lint unit-and-integration check-template check-openapi bench-export

## dev: local stack (moto) + every function behind http://127.0.0.1:$${PORT:-3000}
dev:
	@infra/venv.sh stack
	$(CARGO) run -p dev-server

## test: format, lints, unit + integration tests, template and OpenAPI checks
test: venv fmt lint unit-and-integration check-template check-openapi

venv:
	@infra/venv.sh stack
	@infra/venv.sh tools

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit-and-integration:
	$(CARGO) test --workspace

check-template:
	infra/check-template.sh

check-openapi:
	infra/check-openapi.sh

## bench-export: export rows/s and the worker's peak memory at 10k, 100k, 1M events (ROWS=... to choose)
bench-export:
	@infra/dynalite.sh >/dev/null
	$(CARGO) build --release -p export-bench
	target/release/export-bench
