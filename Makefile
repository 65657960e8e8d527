# The two commands: `make dev` runs the service locally, `make test` runs every check.
# Each target installs what it needs (pinned Python tools in .venv/), idempotently.

SHELL := /bin/bash
CARGO ?= cargo
# Where `infra/with-dev-server.sh` (cargo build --workspace --bins --tests) puts the tools.
BIN = $${CARGO_TARGET_DIR:-target}/debug
export SAM_CLI_TELEMETRY := 0

.PHONY: dev test environments build-tests check-core check-stack verify-py check-ocsf walkthrough check-links venv browser browser-test screenshots fmt lint unit-and-integration check-template check-openapi fuzz-short fuzz bench-export bench-evidence bench-signins load faults load-short faults-short bench-micro bench-client build bench deploy

## dev: local stack (moto) + every function behind http://127.0.0.1:$${PORT:-3000}, and the Security Logs
## page at / (the walk-through's events, events/demo/, recorded on start; DEMO_DATA=0 skips them)
dev:
	@infra/venv.sh stack
	$(CARGO) run -p dev-server

## test: format, lints, unit + integration tests (the browser tests among them), the walk-through,
## template, OpenAPI and link checks, a short fuzz, and short load and fault runs (infra/test.sh:
## these targets in order, the Python environments and the browser prepared while cargo builds)
test:
	@MAKE=$(MAKE) infra/test.sh

venv:
	@infra/venv.sh stack
	@infra/venv.sh checks

## environments: every Python environment `make test` uses (each step also makes its own)
environments: venv
	@infra/venv.sh verify-py
	@infra/venv.sh ocsf
	@infra/venv.sh fuzz

## browser: Debian's chromium and chromium-driver, installed with apt-get only if missing (says so)
browser:
	@infra/browser.sh

## browser-test: only the browser tests (headless Chromium against the dev server's page)
browser-test: browser
	@infra/venv.sh stack
	REQUIRE_BROWSER=1 $(CARGO) test -p integration-tests --test browser

## screenshots: the demo page at desktop and phone widths, into docs/screenshots/ (shown in README and docs/page.md)
screenshots: browser
	@infra/venv.sh stack
	$(CARGO) run -q -p integration-tests --bin screenshots -- docs/screenshots

fmt:
	$(CARGO) fmt --all -- --check

lint: check-modules
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# Built together, the workspace has seclog's `bench` feature on (export-bench enables it);
	@# the Lambdas are built one by one without it. The feature only flips a `cfg!` (the export
	@# worker's bench-only mode, docs/performance.md), so the lint above covers both builds: check
	@# that no function turns it on.
	@for f in $(FUNCTIONS); do \
	  if $(CARGO) tree -p $$f -e features | grep -q 'seclog feature "bench"'; then \
	    echo "$$f enables seclog's bench feature"; exit 1; fi; \
	done

## check-modules: the library crate's top-level modules (and coldstart's) import each other with
## no circles (issue 20; the layers of docs/design/overview.md); the checker first tests itself
.PHONY: check-modules
check-modules:
	python3 infra/check-modules.py --self-test
	python3 infra/check-modules.py shared/src infra/coldstart/src

## check-core: the pure core builds alone, with no AWS crate: `seclog` without its `aws` feature, and
## the offline verifier built on its own (in a workspace build Cargo would unify `aws` in)
check-core:
	$(CARGO) check -p seclog --no-default-features
	$(CARGO) check -p seclog-verify

## build-tests: everything `cargo test --workspace` and the dev server's runs need, built once with
## the workspace's features (a `cargo run -p` would rebuild with that package's own)
build-tests:
	$(CARGO) test --workspace --no-run
	$(CARGO) build --workspace --bins --tests

# REQUIRE_BROWSER: here a missing chromedriver fails the browser tests (plain `cargo test` skips them).
unit-and-integration:
	REQUIRE_BROWSER=1 $(CARGO) test --workspace

## verify-py: the independent Python verifier (tools/verify-py, written from docs/design/integrity.md)
## against the committed evidence fixtures: it must agree with seclog-verify on each
verify-py:
	@infra/venv.sh verify-py
	.venv/verify-py/bin/python tools/verify-py/test_fixtures.py

## check-ocsf: one OCSF stream record per event type (ocsf-samples) validated with pydantic-ocsf's
## models of the same OCSF version, unknown members refused; and the validator's own tests
check-ocsf:
	@infra/venv.sh ocsf
	.venv/ocsf/bin/python tools/ocsf-check/test_validate.py
	$(CARGO) build --quiet --workspace --bins --tests
	set -o pipefail; $(BIN)/ocsf-samples | .venv/ocsf/bin/python tools/ocsf-check/validate.py

## walkthrough: docs/walkthrough.md's blocks against a fresh, empty dev server, each answer checked
walkthrough:
	DEMO_DATA=0 SECLOG_VERIFY=$(BIN)/seclog-verify infra/with-dev-server.sh python3 infra/walkthrough.py docs/walkthrough.md

## check-stack: the local stack's shim (infra/moto_serial.py) answers as moto does, request for request
check-stack:
	@infra/venv.sh stack
	.venv/stack/bin/python infra/test_moto_serial.py

## check-links: every relative link of the Markdown files resolves (file and heading)
check-links:
	python3 infra/check-links.py

check-template:
	infra/check-template.sh

check-openapi:
	infra/check-openapi.sh

## fuzz-short: schemathesis against a fresh dev server, every check, a few hundred requests
fuzz-short:
	infra/with-dev-server.sh infra/fuzz.sh --short

## fuzz: the long run (10,000+ generated requests); prints requests, failures and 5xx
fuzz:
	infra/with-dev-server.sh infra/fuzz.sh --long

## bench-export: export rows/s (and as a ratio of paging the same rows with the SDK) and the worker's
## peak memory at 10k, 100k, 1M events (ROWS=... to choose), then the evidence figures (bench-evidence)
bench-export: bench-evidence
	@infra/dynalite.sh >/dev/null
	$(CARGO) build --release -p export-bench
	target/release/export-bench

## bench-evidence: evidence bytes per row and seclog-verify's time and peak memory at 10k, 100k, 1M rows
bench-evidence:
	$(CARGO) build --release -p seclog-verify -p evidence-bench
	target/release/evidence-bench

## bench-signins: ingest latency of a batch of 100 sign-ins with and without unfamiliar-sign-in judging (local stack)
bench-signins: venv
	$(CARGO) build --release -p signin-bench
	target/release/signin-bench

## load: 20 producers (20,000 events, 50 accounts), 20 dashboards and 10 exports against a fresh
## dev server on loopback, at most 15 minutes; then every event and export checked (exit 1 if not)
load:
	infra/with-dev-server.sh $(BIN)/load

## faults: storage stopped (SIGSTOP) for 30 s and export workers killed (SIGKILL) mid-export while
## producers ingest; then every event, export and link checked (exit 1 if not)
faults:
	EXPORT_WORKER=process LOCAL_STORAGE_TIMEOUT_SECS=10 infra/with-dev-server.sh $(BIN)/faults

## load-short, faults-short: the same scenarios, small (part of `make test`)
load-short:
	PRODUCERS=4 EVENTS=400 ACCOUNTS=5 DASHBOARDS=2 EXPORTS=2 infra/with-dev-server.sh $(BIN)/load

faults-short:
	EXPORT_WORKER=process LOCAL_STORAGE_TIMEOUT_SECS=3 OUTAGE_SECS=8 SEED=60 EXPORTS=2 PRODUCERS=2 ACCOUNTS=2 \
	  infra/with-dev-server.sh $(BIN)/faults

## bench-micro: criterion benchmarks (CSV rendering vs raw csv::Writer; list page for 100 entries)
bench-micro:
	$(CARGO) bench -p seclog --bench csv
	$(CARGO) bench -p list-logs --bench page

## bench-client: the producer client (clients/seclog-client) against a fresh dev server: events/s
## at 1, 10 and 100 concurrent callers, and the time record() takes in the caller (EVENTS=..., CALLERS=...)
bench-client:
	$(CARGO) build --release -p client-bench
	infra/with-dev-server.sh $${CARGO_TARGET_DIR:-target}/release/client-bench

## build: offline `sam build` (cargo-lambda + zig from .venv/build; arm64, or x86_64 said plainly)
build:
	infra/build.sh

FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_TARGET := $(CURDIR)/target/lambda

## bench: cold start (init, first invoke, peak RSS) and bootstrap size of every function
bench: venv
	@infra/venv.sh bench-peer
	@# Two builds: built together, cargo would unify the dev server's features into the Lambdas.
	CARGO_TARGET_DIR=$(LAMBDA_TARGET) $(CARGO) build --release $(addprefix -p ,$(FUNCTIONS))
	CARGO_TARGET_DIR=$(LAMBDA_TARGET) $(CARGO) build --release -p coldstart
	$(LAMBDA_TARGET)/release/coldstart --runs 20 --event export-worker=events/export-stream-insert.json

## deploy: `sam deploy --guided` the first time, then `sam deploy` (needs AWS credentials; not run here)
deploy: build
	.venv/build/bin/sam deploy
