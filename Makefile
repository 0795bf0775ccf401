# dbarchive chores. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help dev demo test test-unit test-integration test-airflow2 test-scheduler lint format typecheck bench clean reliability soak

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

dev:  ## install system packages (if missing), start MariaDB, create .venv with dev tools
	@scripts/bootstrap

demo: dev  ## archive yesterday of a demo table from the local MariaDB to ./dbarchive-demo-archive
	$(VENV)/bin/dbarchive demo

test: dev  ## the whole suite: lint, types, all tests (MariaDB + SeaweedFS S3 + Airflow 3), Airflow 2.11, scheduler tier
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest
	$(MAKE) test-airflow2
	$(MAKE) test-scheduler

test-airflow2:  ## the Airflow tests again on Airflow 2.11 (MWAA's 2.x line), in .venv-airflow2
	@scripts/airflow2-venv
	.venv-airflow2/bin/pytest -p no:cacheprovider tests/integration/test_airflow_dag.py \
	  tests/integration/test_airflow_backfill.py tests/integration/test_airflow_aurora.py

test-scheduler: dev  ## slow tier (~2 min each): the backfill DAG under a real scheduler, LocalExecutor + PostgreSQL, Airflow 3 and 2.11
	DBARCHIVE_SCHEDULER_TEST=1 $(VENV)/bin/pytest tests/integration/test_airflow_scheduler.py
	@scripts/airflow2-venv
	DBARCHIVE_SCHEDULER_TEST=1 .venv-airflow2/bin/pytest -p no:cacheprovider tests/integration/test_airflow_scheduler.py

test-unit: dev  ## pure-code tests only (no MySQL, no S3)
	$(VENV)/bin/pytest tests/unit

test-integration: dev  ## tests against the real MariaDB and a suite-started SeaweedFS
	$(VENV)/bin/pytest tests/integration

reliability: dev  ## the fault-injection matrix (quick tier, ~20k rows), then RELIABILITY.md from its results
	rm -f .reliability/latest.jsonl
	$(VENV)/bin/pytest tests/reliability
	$(PY) -m tests.reliability.report > RELIABILITY.md

soak: dev  ## the same matrix with x10 faults (DBARCHIVE_SOAK=1), then RELIABILITY.md
	rm -f .reliability/latest.jsonl
	DBARCHIVE_SOAK=1 $(VENV)/bin/pytest tests/reliability --timeout 3600
	$(PY) -m tests.reliability.report > RELIABILITY.md

lint:  ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format:  ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: dev  ## benchmarks vs mysql/pt-archiver/pandas (issue 5) -> BENCHMARKS.md; quick: BENCH_ARGS="--rows 300000 --runs 1"
	@bench/install-peers.sh
	$(PY) bench/run.py $(BENCH_ARGS)

clean:  ## remove caches and the demo archive
	rm -rf .pytest_cache .mypy_cache .ruff_cache dbarchive-demo-archive
