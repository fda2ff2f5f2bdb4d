# The three commands of the README. Each creates .venv and installs what it needs on its own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test demo dev status reliability bench chromium ui e2e

$(INSTALLED): setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# Two workers, each taking whole test files (module fixtures such as the bench smoke run stay
# on one worker); most tests wait on subprocesses, sockets and the simulator's clock.
test: $(INSTALLED) chromium
	$(PY) -m pytest -n 2 --dist loadfile

demo: $(INSTALLED)
	$(PY) -m aircall_assets demo

# The simulator and `dagster dev` (webserver and daemon); the UI on DAGSTER_PORT, e.g.
# `make dev DAGSTER_PORT=3001`. Ctrl-C or SIGTERM (docker stop, systemd, CI) stops everything.
DAGSTER_PORT ?= 3000
dev: $(INSTALLED)
	$(PY) -m aircall_assets dev --webserver-port $(DAGSTER_PORT)

status: $(INSTALLED)
	$(PY) -m aircall_assets status

# Debian's Chromium, which the end-to-end test drives through Playwright (no browser download).
# Idempotent; installs as root (or through sudo) when /usr/bin/chromium is missing.
chromium:
	@if [ -n "$$AIRCALL_E2E_CHROMIUM" ] || [ -x /usr/bin/chromium ]; then exit 0; fi; \
	echo "Installing Debian's chromium for the end-to-end test (apt-get)"; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "Run as root: apt-get install -y chromium (or set AIRCALL_E2E_CHROMIUM)"; exit 1; fi; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Only the end-to-end test (dagster dev + daemon + GraphQL + browser, about 1.5 minutes).
e2e: $(INSTALLED) chromium
	$(PY) -m pytest -m e2e

# The Dagster UI and daemon on your own AIRCALL_* environment (a real account; no simulator).
ui: $(INSTALLED)
	@test -n "$$AIRCALL_API_ID" -a -n "$$AIRCALL_API_TOKEN" || { echo "Set AIRCALL_API_ID and \
	AIRCALL_API_TOKEN (Aircall dashboard > Integrations & API > API keys)"; exit 1; }
	$(PY) -c "from aircall_assets.demo import prepare_dagster_home as p; p()"
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster_home} $(VENV)/bin/dagster dev -w workspace.yaml

# The benchmark suite (about 12 minutes on 2 cores): ours against dlt, Airbyte's connector, a
# naive baseline and the bare fetch+parse ceiling, plus rate limit, backfill cost, memory, the
# daily run, reverse sync and one budget shared by concurrent CLI runs. Peers go into .bench/ (git-ignored venvs), never into
# the project's dependencies. Writes the table to docs/benchmarks.md.
bench: $(INSTALLED)
	$(PY) -m bench $(BENCH_ARGS)

# The reliability suite of issue 5 at full counts (about 13 minutes on 2 cores): faults at 5-30%
# against a fault-free run cell for cell, SIGKILLs of backfills and reverse syncs, concurrent
# runs on one DuckDB file, bad input with exact messages, secrets searched everywhere. Prints
# one table and writes the figures to docs/reliability.md; `make test` runs a small sample.
reliability: $(INSTALLED)
	$(PY) -m reliability --full $(RELIABILITY_ARGS)
