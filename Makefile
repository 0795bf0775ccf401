# dbarchive chores. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help dev demo dist wheelhouse test-install mwaa-bundle test test-unit test-integration test-pure test-airflow2 test-scheduler lint format typecheck bench bench-frontier bench-iceberg clean reliability soak

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

dev:  ## install system packages (if missing), start MariaDB, create .venv with dev tools
	@scripts/bootstrap

demo: dev  ## archive yesterday of a demo table from the local MariaDB to ./dbarchive-demo-archive
	$(VENV)/bin/dbarchive demo

dist:  ## sdist + manylinux_2_28 x86_64 wheels (CPython 3.11, 3.12, 3.13 where found) in dist/, ~1 min
	@scripts/build-dist

wheelhouse: dist  ## fetch what the install tier installs (uv's cache in .wheelhouse/, ~1.2 GB, ~1 min)
	@scripts/wheelhouse

mwaa-bundle: dist  ## plugins.zip + requirements.txt for an MWAA environment: make mwaa-bundle MWAA=2.11.2 (-> mwaa-bundle/2.11.2/)
	@scripts/mwaa-bundle $(MWAA)

test-install: dev wheelhouse  ## install tier (~2 min after the two above): the wheels in fresh venvs, under every MWAA version's constraints, offline
	DBARCHIVE_INSTALL_TEST=1 $(VENV)/bin/pytest tests/integration/test_install.py

test: dev  ## the whole suite: lint, types, all tests (MariaDB + SeaweedFS S3 + Airflow 3), pure-Python paths, Airflow 2.11, scheduler tier, install tier
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	VENV=$(VENV) scripts/test-suites
	$(MAKE) test-pure
	$(MAKE) test-airflow2
	$(MAKE) test-scheduler
	$(MAKE) test-install

# The suites whose rows go through the C paths (CSV encoder/parser, row hashes, MySQL reader),
# again with those paths off: the pure-Python fallback must write, read and fail identically.
PURE_SUITES := tests/unit/test_csv_format.py tests/unit/test_archive_walk.py \
  tests/unit/test_checksum.py tests/integration/test_roundtrip.py tests/integration/test_export.py \
  tests/integration/test_purge.py tests/integration/test_purge_guards.py tests/integration/test_restore.py

test-pure: dev  ## round trip, export, purge and restore again with DBARCHIVE_PURE_PYTHON=1 (~1 min)
	DBARCHIVE_PURE_PYTHON=1 $(VENV)/bin/pytest -p no:cacheprovider $(PURE_SUITES)

test-airflow2:  ## the Airflow tests again on Airflow 2.11 (MWAA's 2.x line), in .venv-airflow2
	@scripts/airflow2-venv
	.venv-airflow2/bin/pytest -p no:cacheprovider tests/integration/test_airflow_dag.py \
	  tests/integration/test_airflow_backfill.py tests/integration/test_airflow_aurora.py \
	  tests/integration/test_airflow_days.py tests/integration/test_airflow_failures.py \
	  tests/integration/test_airflow_options.py tests/integration/test_airflow_notify.py \
	  tests/integration/test_airflow_maintenance.py tests/integration/test_airflow_conn_cli.py \
	  tests/integration/test_tls.py::test_an_airflow_connections_ssl_extras_are_applied \
	  tests/integration/test_iam.py::test_an_airflow_connection_with_iam_signs_with_its_aws_connection

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

bench-iceberg: dev  ## issue 23: the Iceberg export's rows/s next to Parquet's, the commit apart (~2 min) -> bench/results/iceberg.md
	@bench/install-peers.sh
	cd bench && ../$(VENV)/bin/python iceberg.py $(ICEBERG_ARGS)

bench-frontier: dev  ## issue 20: purge/export speed against production p99, pinned and unpinned (~90 min; the settled A/Bs' settings are left out) -> bench/results/frontier.{md,json,png}
	@bench/install-peers.sh
	$(PY) bench/frontier.py $(FRONTIER_ARGS)

clean:  ## remove caches and the demo archive
	rm -rf .pytest_cache .mypy_cache .ruff_cache dbarchive-demo-archive
