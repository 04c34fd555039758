# Set-up and the two jobs of the README. Everything installs on first use: the tap into
# .venv, Meltano into .venv-meltano and its plugins into .meltano, PostgreSQL (for the
# end-to-end tests) from the system's packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_VERSION := 4.4.1
PLUGINS := .meltano/.installed

.PHONY: demo test postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(MELTANO):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install --quiet meltano==$(MELTANO_VERSION)

# The plugins of meltano.yml: tap-commerce (editable), target-postgres, target-jsonl.
$(PLUGINS): meltano.yml pyproject.toml $(MELTANO)
	MELTANO_SEND_ANONYMOUS_USAGE_STATS=false $(MELTANO) --log-level=warning install
	touch $(PLUGINS)

postgres:
	@scripts/ensure-postgres

# The main job: a real sync of the five APIs.
demo: $(STAMP)
	$(BIN)/python -m tap_commerce.demo

# The whole test suite.
test: $(STAMP) $(PLUGINS) postgres
	$(BIN)/python -m pytest -q

# The benchmark (benchmarks/README.md): tap-commerce side by side with dlt and a plain
# singer-sdk tap, against the sandbox. Its own venv: the project plus benchmarks/requirements.txt.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . -r benchmarks/requirements.txt
	touch $(BENCH_STAMP)

.PHONY: bench
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m compileall -q tap_commerce  # as a non-editable install would
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)
