# The two commands: `make dev` runs the service locally, `make test` runs every check.
# Each target installs what it needs (pinned Python tools in .venv/), idempotently.

SHELL := /bin/bash
CARGO ?= cargo
export SAM_CLI_TELEMETRY := 0

.PHONY: dev test venv fmt lint unit-and-integration check-template check-openapi

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
