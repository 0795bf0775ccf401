# dbarchive chores. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help dev demo test test-unit test-integration lint format typecheck bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

dev:  ## install system packages (if missing), start MariaDB, create .venv with dev tools
	@scripts/bootstrap

demo: dev  ## archive yesterday of a demo table from the local MariaDB to ./dbarchive-demo-archive
	$(VENV)/bin/dbarchive demo

test: dev  ## the whole suite: lint, types, unit and integration tests (MariaDB + SeaweedFS S3)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

test-unit: dev  ## pure-code tests only (no MySQL, no S3)
	$(VENV)/bin/pytest tests/unit

test-integration: dev  ## tests against the real MariaDB and a suite-started SeaweedFS
	$(VENV)/bin/pytest tests/integration

lint:  ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format:  ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:  ## remove caches and the demo archive
	rm -rf .pytest_cache .mypy_cache .ruff_cache dbarchive-demo-archive
