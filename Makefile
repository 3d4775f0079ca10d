# The few verbs a newcomer needs (`make help` lists them); `install`, `serve` and `test` create
# .venv on first use, and the command line then lives there: `.venv/bin/nft-gateway ...`.
# CI (.ci/run) calls `check` and `test` on a fresh clone.
VENV := .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install serve test check schema bench

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | expand -t 10

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## .venv with the gateway and its dev tools; then .venv/bin/nft-gateway -h

serve: $(VENV)/.installed  ## http://127.0.0.1:8000, on the embedded sandbox when no keys are set
	$(PY) -m gateway serve

test: $(VENV)/.installed  ## the whole suite; upstreams are emulated, nothing touches the internet
	$(PY) -m pytest -q

check: $(VENV)/.installed  ## lint, format, types, schema.graphql in sync
	$(PY) -m ruff check gateway providers tests bench
	$(PY) -m ruff format --check gateway providers tests bench
	$(PY) -m mypy
	$(PY) -m gateway export-schema --check

schema: $(VENV)/.installed  ## regenerate schema.graphql from the code
	$(PY) -m gateway export-schema

bench: $(VENV)/.installed  ## every speed, memory and call figure, each a ratio measured in one run (~4 min; not part of test)
	$(PY) -m bench
