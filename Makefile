# Every target installs what it needs on first use and is quick when everything is there.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IAC_VENV := .venv-iac
VENV_STAMP := $(VENV)/.installed
IAC_STAMP := $(IAC_VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: all deps demo test lint typecheck unit serve bench infra-check clean

all: test

$(VENV_STAMP): requirements.txt requirements-dev.txt
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

serve: deps
	$(PY) -m tools.serve

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
