# Two commands for a newcomer: `make up` (the whole system, nightly pipeline included) and
# `make test` (the lint, then the whole suite against a throwaway PostgreSQL). `make test-unit` is
# the quick loop: the tests without the integration marker, no server. Everything installs into
# .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install browser up down status test test-unit lint format clean

# pip says what it does (a line per package it collects, a bar per download): the first install
# takes minutes and should never look stuck.
$(INSTALLED): requirements.txt constraints.txt pyproject.toml
	@echo "[make install] 1/3 creating $(VENV) with pip 25.3"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	@echo "[make install] 2/3 the pinned stack (requirements.txt with constraints.txt): a few minutes the first time"
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt -c constraints.txt
	@echo "[make install] 3/3 the fraud package itself, editable"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)
	@echo "[make install] done"

# The monitoring-page test drives Debian's Chromium (no browser download). Installed when missing
# and possible (root with apt-get); otherwise that one test skips, so this never fails the install.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium and chromium-driver with apt-get"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends chromium chromium-driver >/dev/null; } \
				|| echo "chromium not installed: the browser test will skip"; \
		else \
			echo "no /usr/bin/chromium (apt-get install chromium as root): the browser test will skip"; \
		fi; \
	fi

install: $(INSTALLED) browser

up: install
	$(BIN)/fraud up

down:
	@if [ -x $(BIN)/fraud ]; then $(BIN)/fraud down; else echo "nothing to stop"; fi

status: install
	@set -a; [ -f .fraud/env ] && . ./.fraud/env; set +a; $(BIN)/fraud status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite runs on pytest-xdist workers, one per core up to four: each creates its own databases
# on the one embedded PostgreSQL, and a test file stays on one worker, so its module fixtures are
# built once. Files go out in the order collected (the integration files first, the many small
# unit files last to even out the end), not xdist's most-tests-first, which left the few-test files
# that run whole nights for last. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --no-loadscope-reorder

# Unit tests share no database, so single tests (not files) go to the workers: the end is even.
test-unit: install
	$(BIN)/python -m pytest -m "not integration" -n $(TEST_WORKERS) --maxprocesses 4 --dist load

clean: down
	rm -rf .fraud .pytest_cache .ruff_cache
