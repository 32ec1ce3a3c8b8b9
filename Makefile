# Every target installs what it needs on first use and is quick when everything is there.
# Python 3.11 (the Functions runtime we deploy to): python3.11 when on PATH, else python3 if it is 3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
IAC_VENV := .venv-iac
VENV_STAMP := $(VENV)/.installed
IAC_STAMP := $(IAC_VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: all deps demo test lint typecheck unit serve bench infra-check clean

all: test

$(VENV_STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "make: $(PYTHON) is not Python 3.11; install it or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(IAC_STAMP): requirements-iac.txt
	@test -x $(IAC_VENV)/bin/python || $(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-iac.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

local.settings.json: | local.settings.example.json
	cp local.settings.example.json local.settings.json
	@echo "created local.settings.json from local.settings.example.json (never committed)"

deps: $(VENV_STAMP) $(NODE_STAMP) local.settings.json

demo: deps
	$(PY) -m tools.demo

# SERVE_ARGS: options of tools/serve.py, e.g. --devhost (bench/bench_stack_ready.py uses them).
serve: deps
	$(PY) -m tools.serve $(SERVE_ARGS)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(VENV_STAMP)
	$(VENV)/bin/mypy

infra-check: $(IAC_STAMP) $(VENV_STAMP)
	$(PY) -m tools.infra_check --checkov $(IAC_VENV)/bin/checkov

test: deps $(IAC_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m tools.infra_check --checkov $(IAC_VENV)/bin/checkov
	$(VENV)/bin/pytest

unit: $(VENV_STAMP)
	$(VENV)/bin/pytest -m unit

bench: deps
	@set -e; for script in bench/bench_*.py; do \
		echo "== $$script"; $(PY) $$script; echo; \
	done

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .azurite
