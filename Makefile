# Every target installs what it needs on first use and is quick when everything is there.
# Python 3.11 (the Functions runtime we deploy to): python3.11 when on PATH, else python3 if it is 3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
IAC_VENV := .venv-iac
VENV_STAMP := $(VENV)/.installed
IAC_STAMP := $(IAC_VENV)/.installed
NODE_STAMP := node_modules/.installed
# Debian's Chromium for the card render tests (tools/render); CHROMIUM=/path names another.
CHROMIUM_BIN := /usr/bin/chromium
CHROMIUM_TRIED := $(VENV)/.chromium-tried

.PHONY: all deps chromium configure-assets configure-shots demo gallery test lint typecheck unit serve bench infra-check clean

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

# Installs Chromium once when it is missing and we can (root with apt-get); otherwise says how, and the
# render tests skip with the same words.
chromium: | $(VENV_STAMP)
	@if [ -n "$$CHROMIUM" ] || [ -x $(CHROMIUM_BIN) ]; then :; \
	elif [ -e $(CHROMIUM_TRIED) ]; then \
		echo "make: no Chromium: the card render tests skip (apt-get install chromium, or set CHROMIUM=/path)" >&2; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		touch $(CHROMIUM_TRIED); \
		echo "make: installing Debian's chromium for the card render tests (apt-get, once)"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-noto-color-emoji; \
		} >$(VENV)/.chromium-apt.log 2>&1 || \
		echo "make: apt-get could not install chromium (see $(VENV)/.chromium-apt.log): the render tests skip" >&2; \
	else \
		echo "make: no Chromium: the card render tests skip (apt-get install chromium, or set CHROMIUM=/path)" >&2; \
	fi

local.settings.json: | local.settings.example.json
	cp local.settings.example.json local.settings.json
	@echo "created local.settings.json from local.settings.example.json (never committed)"

# The configuration page's renderer (shared/configure/static/vendor/, git-ignored, published): copied
# from node_modules (and Teams' host config from ../shared/hostconfig when present), never committed.
configure-assets: $(VENV_STAMP) $(NODE_STAMP)
	$(PY) -m tools.configure_assets

# docs/configure/*.png: the page at desktop and phone width, in headless Chromium.
configure-shots: deps
	$(PY) -m tools.configure_shots

deps: $(VENV_STAMP) $(NODE_STAMP) chromium local.settings.json configure-assets

demo: deps
	$(PY) -m tools.demo

# docs/cards/: one PNG per source and event kind, rendered by the official renderer, and its index.
gallery: deps
	$(PY) -m tools.gallery

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
