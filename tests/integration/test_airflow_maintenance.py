"""Operators users expect (issue 21, section 4): dbarchive registered as an Airflow provider,
every operator exported, and the maintenance DAG — check, status, plan --backfill, ddl — run
with dag.test() against MariaDB and SeaweedFS, for environments without a shell (MWAA)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    PER_DAY,
    RUN_DATE,
    AirflowHome,
    airflow_home,
    archive_config,
    archive_context,
    connections,
    dag_file,
    fill_days,
    run_dag,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(300), *AIRFLOW_WARNINGS]


def test_airflow_providers_list_shows_dbarchive(tmp_path: Path) -> None:
    """The ``apache_airflow_provider`` entry point: Airflow validates get_provider_info against
    its schema and lists the package (a fresh AIRFLOW_HOME, nothing else configured)."""
    airflow = Path(sys.executable).with_name("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [str(airflow), "providers", "list", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    listed = {p["package_name"]: p for p in json.loads(out[out.index("[") :])}
    from dbarchive._version import __version__

    assert listed["dbarchive"]["version"] == __version__


def test_every_operator_is_exported(airflow_home: AirflowHome) -> None:
    """``from dbarchive.airflow import …`` gives every operator (ArchiveSummaryOperator was not
    exported), the sensor, the notifier and the DAG factories."""
    import dbarchive.airflow as package
    from dbarchive.airflow._compat import BaseNotifier, BaseOperator

    operators = [n for n in package.__all__ if n.endswith(("Operator", "Sensor"))]
    assert {"ArchiveSummaryOperator", "ArchiveCheckOperator", "ArchiveBackfillPlanOperator",
            "ArchiveStatusOperator", "ArchiveDdlOperator", "ArchiveCatchUpOperator",
            "ArchiveSettledSensor"} <= set(operators)  # fmt: skip
    for name in operators:
        assert issubclass(getattr(package, name), BaseOperator), name
    assert issubclass(package.WebhookNotifier, BaseNotifier)
    assert {"build_dag", "build_backfill_dag", "build_maintenance_dag"} <= set(package.__all__)


def _xcoms(run: Any) -> dict[str, Any]:
    return {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state).rpartition(".")[2] for ti in run.get_task_instances()}


def test_the_maintenance_dag_checks_sizes_reports_and_prints_ddl(
    connections: MySqlSchema,
    s3_endpoint: Any,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three archived days of eight: ``check`` finds nothing missing, ``status`` lists the
    archived and pending days, ``plan_backfill`` sizes the five days left (params
    workers/db_cap), ``ddl`` prints Athena's table; nothing is exported or deleted."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 17), 8)  # 2026-11-17 .. 2026-11-24
    config = archive_config(tmp_path, s3_bucket)
    ctx = archive_context(config, schema, s3_endpoint)
    from dbarchive import api

    for day in (22, 23, 24):
        api.export(ctx, ctx.job.tables[0], dt.date(2026, 11, day))
    ctx.source.close()
    source = (
        "from dbarchive.airflow import build_maintenance_dag\n"
        f"dag = build_maintenance_dag({str(config)!r}, dag_id='upkeep')\n"
    )
    dag = dag_file(source, "upkeep")
    assert sorted(t.task_id for t in dag.tasks) == ["check", "ddl", "plan_backfill", "status"]
    with caplog.at_level(logging.INFO, logger="dbarchive"):
        run = run_dag(dag, RUN_DATE, run_conf={"workers": 3, "db_cap": 2, "to": "2026-11-21"})
    assert run.state == "success", _states(run)
    for step in ("check", "status", "plan_backfill", "ddl"):
        assert f"dbarchive summary: step={step} tables=events" in caplog.text, step
    xcom = _xcoms(run)
    assert all(r["ok"] or r["advisory"] for r in xcom["check"])
    (status,) = xcom["status"]
    assert status["archived_days"] == ["2026-11-22", "2026-11-23", "2026-11-24"]
    (plan,) = xcom["plan_backfill"]
    assert (plan["table"], plan["days"], plan["first_day"], plan["last_day"]) == (
        "events", 5, "2026-11-17", "2026-11-21"
    )  # fmt: skip
    assert (plan["workers"], plan["db_cap"], plan["parallel"]) == (3, 2, 2)
    assert "CREATE EXTERNAL TABLE" in xcom["ddl"]["events"]
    assert f"s3://{s3_bucket}/archive/" in xcom["ddl"]["events"]
    assert schema.execute("SELECT COUNT(*) FROM events")[0][0] == 8 * PER_DAY


def test_a_failing_check_fails_at_once_and_every_task_still_runs(
    connections: MySqlSchema, tmp_path: Path, dag_file: Any
) -> None:
    """A missing bucket: ``check`` fails at its first try (retries=2); the other tasks do not
    wait on it (each ran, and failed at its first try on the same bucket)."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 20), 2)
    config = archive_config(tmp_path, f"missing-{uuid.uuid4().hex[:8]}")
    source = (
        "from dbarchive.airflow import build_maintenance_dag\n"
        f"dag = build_maintenance_dag({str(config)!r}, dag_id='upkeep_fail', "
        "default_args={'retries': 2, 'retry_delay': 0})\n"
    )
    run = run_dag(dag_file(source, "upkeep_fail"), RUN_DATE)
    assert run.state == "failed"
    tries = {ti.task_id: (_states(run)[ti.task_id], ti.try_number)
             for ti in run.get_task_instances()}  # fmt: skip
    assert tries == dict.fromkeys(["check", "ddl", "plan_backfill", "status"], ("failed", 1))


def test_example_maintenance_dag_parses(
    airflow_home: AirflowHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example file parses into the four tasks, triggered by hand."""
    import shutil

    examples = Path(__file__).parents[2] / "examples" / "airflow"
    monkeypatch.setenv("DBARCHIVE_CONFIG", str(examples / "archive.toml"))
    target = airflow_home.dags / "dbarchive_maintenance_example.py"
    shutil.copy(examples / "dbarchive_maintenance_dag.py", target)
    try:
        dag = airflow_home.load_dag("dbarchive_maintenance")
    finally:
        target.unlink()
    assert sorted(t.task_id for t in dag.tasks) == ["check", "ddl", "plan_backfill", "status"]
    assert {"tables", "from", "to", "workers", "db_cap", "engine"} <= set(dag.params)
