# Set-up and the two jobs of the README. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job: a real sync of the five APIs.
demo: $(STAMP)
	$(BIN)/python -m tap_commerce.demo

# The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q
