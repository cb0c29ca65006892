# Liveloop: `make demo` serves a demo organisation on 127.0.0.1:8000; `make test` runs the suite;
# `make test-fast` runs it without the browser and slow tests, stopping at the first failure.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: demo test test-fast e2e serve bench check lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME): $(PY) requirements.lock pyproject.toml
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PY) -m pip install -q -r requirements-dev.lock
	touch $@

demo: $(RUNTIME)
	$(VENV)/bin/liveloop demo

serve: $(RUNTIME)
	$(VENV)/bin/liveloop serve

check: $(DEV)
	$(PY) manage.py makemigrations --check --dry-run

test: check
	$(PY) -m pytest

# While working: no browser (e2e) and no slow tests, and the first failure ends the run.
test-fast: check
	$(PY) -m pytest -x -m "not e2e and not slow"

# Only the browser tests (they also run in `make test`); screenshots land in test-results/.
e2e: $(DEV)
	$(PY) -m pytest -m e2e tests/e2e

# Every benchmark in sequence (bench/suite.py): `make bench BENCH=--full` adds the 5M-event reads.
bench: $(DEV)
	$(PY) bench/suite.py $(BENCH)

clean:
	rm -rf $(VENV) var
