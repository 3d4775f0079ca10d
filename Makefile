# The few verbs a newcomer needs; `serve` and `test` install into .venv on first use.
# CI (.ci/run) calls `check` and `test` on a fresh clone.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: serve test check schema bench

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

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

bench: $(VENV)/.installed  ## the six figures of issue 6 over loopback (~4 min; not part of test)
	$(PY) -m bench
