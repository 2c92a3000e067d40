# Two commands for a newcomer: `make up` (the whole system, nightly pipeline included) and
# `make test` (the whole suite against a throwaway PostgreSQL). Everything installs into .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install up down status test lint format clean

$(INSTALLED): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

install: $(INSTALLED)

up: install
	$(BIN)/fraud up

down:
	@if [ -x $(BIN)/fraud ]; then $(BIN)/fraud down; else echo "nothing to stop"; fi

status: install
	@set -a; [ -f .fraud/env ] && . ./.fraud/env; set +a; $(BIN)/fraud status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest

clean: down
	rm -rf .fraud .pytest_cache .ruff_cache
