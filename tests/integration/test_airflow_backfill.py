"""The backfill DAG and the daily DAG in work units, run with dag.test() against MariaDB + S3.

The same runs under a real scheduler with parallel tasks are in test_airflow_scheduler.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.steps.verify import verify_day
from dbarchive.units.records import is_verified
from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    RUN_DATE,
    AirflowHome,
    airflow_home,
    archive_context,
    connections,
    dag_file,
    run_dag,
)
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(300), *AIRFLOW_WARNINGS]
FIRST = dt.date(2026, 9, 20)  # 10 days; with 60 days retention on 2026-11-25, 6 have expired
BIG = dt.date(2026, 9, 22)  # 2,500 rows: three units of at most 1,000
CUTOFF = dt.date(2026, 9, 26)
PER_DAY = 200


def _fill(schema: MySqlSchema, days: int = 10, last_big: bool = False) -> None:
    schema.execute(LOG_TABLE_DDL)
    for i in range(days):
        day = FIRST + dt.timedelta(days=i)
        fill_events(schema, str(day), 2500 if day == BIG else PER_DAY)
    if last_big:
        fill_events(schema, "2026-11-24", 2500)


def _config(tmp_path: Path, bucket: str) -> Path:
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[destination]\nurl = "s3://{bucket}/archive"\n[defaults]\nretention = "60 days"\n'
        'chunk_rows = 500\n[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
        "range_rows = 1000\n"
    )
    return path


def _manifest(ctx: Any, day: dt.date) -> Manifest | None:
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    return None if raw is None else Manifest.loads(raw)


def _task_states(run: Any) -> dict[str, list[str]]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
        )
        out: dict[str, list[str]] = {}
        for ti in tis.order_by(TaskInstance.task_id, TaskInstance.map_index):
            out.setdefault(ti.task_id, []).append(str(ti.state))
        return out


def _map_labels(run: Any) -> dict[str, list[str]]:
    """task id -> the rendered map index (the label) of each of its mapped instances."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == run.dag_id,
            TaskInstance.run_id == run.run_id,
            TaskInstance.map_index >= 0,
        )
        out: dict[str, list[str]] = {}
        for ti in tis.order_by(TaskInstance.task_id, TaskInstance.map_index):
            out.setdefault(ti.task_id, []).append(str(ti.rendered_map_index))
        return out


def test_backfill_dag_archives_verifies_and_purges_expired_history(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """Mapped over 6 expired days and 8 units: each day published, verified, then purged."""
    schema = connections
    _fill(schema)
    config = _config(tmp_path, s3_bucket)
    source = (
        "from dbarchive.airflow import build_backfill_dag\n"
        f"dag = build_backfill_dag({str(config)!r}, dag_id='dbarchive_history', purge=True, "
        "retries=0, pool='dbarchive')\n"
    )
    dag = dag_file(source, "dbarchive_history")
    assert sorted(t.task_id for t in dag.tasks) == [
        "events.day.publish", "events.day.purge", "events.days", "events.export",
        "events.plan", "events.units",
    ]  # fmt: skip
    assert {t.pool for t in dag.tasks if t.task_id != "events.units"} == {"dbarchive"}
    run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    states = _task_states(run)
    assert states["events.plan"] == ["success"] * 6
    assert states["events.export"] == ["success"] * 8  # 5 small days + 3 units of the big one
    assert states["events.day.purge"] == ["success"] * 6
    days = [str(FIRST + dt.timedelta(days=i)) for i in range(6)]
    labels = _map_labels(run)  # map_index_template: the UI lists a mapped task's day or unit
    assert labels["events.plan"] == labels["events.day.publish"] == days
    assert labels["events.day.purge"] == days
    assert sorted(labels["events.export"]) == sorted(
        [f"{d} unit 0" for d in days if d != str(BIG)] + [f"{BIG} unit {i}" for i in range(3)]
    )
    ctx = archive_context(config, schema, s3_endpoint)
    spec = ctx.job.tables[0]
    for i in range(6):
        day = FIRST + dt.timedelta(days=i)
        manifest = _manifest(ctx, day)
        assert manifest is not None and manifest.rows == (2500 if day == BIG else PER_DAY)
        assert is_verified(ctx.storage, PartitionPath("events", day), manifest)
    assert len(_manifest(ctx, BIG).extra["units"]["ranges"]) == 3  # type: ignore[union-attr]
    (oldest,) = schema.execute("SELECT MIN(created_at) FROM events")[0]
    assert oldest.date() == CUTOFF and _manifest(ctx, CUTOFF) is None
    assert schema.execute("SELECT COUNT(*) FROM events")[0][0] == 4 * PER_DAY
    again = run_dag(dag, RUN_DATE)  # everything is done: no day left to map over
    assert again.state == "success"
    assert "events.plan" not in _task_states(again) or set(_task_states(again)["events.plan"]) <= {
        "skipped", "None"
    }  # fmt: skip
    assert verify_day(ctx, spec, BIG).ok  # purged day: archive intact, no row left behind
    ctx.source.close()


def test_daily_dag_exports_a_big_day_in_units(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """range_rows set: yesterday is planned, exported by 3 mapped unit tasks, verified, purged."""
    schema = connections
    _fill(schema, days=1, last_big=True)  # one expired day, and yesterday
    config = _config(tmp_path, s3_bucket)
    source = (
        "from dbarchive.airflow import build_dag\n"
        f"dag = build_dag({str(config)!r}, dag_id='dbarchive_units', retries=0)\n"
    )
    dag = dag_file(source, "dbarchive_units")
    assert sorted(t.task_id for t in dag.tasks) == [
        "events.catch_up", "events.export", "events.plan", "events.purge", "events.settle",
        "events.verify",
    ]  # fmt: skip
    run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    assert _task_states(run)["events.export"] == ["success"] * 3
    assert _map_labels(run)["events.export"] == [f"2026-11-24 unit {i}" for i in range(3)]
    ctx = archive_context(config, schema, s3_endpoint)
    yesterday = dt.date(2026, 11, 24)
    manifest = _manifest(ctx, yesterday)
    assert manifest is not None and manifest.rows == 2500
    assert verify_day(ctx, ctx.job.tables[0], yesterday).ok
    expired = schema.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (str(CUTOFF),))
    assert expired == [(0,)]
    # A cleared run: nothing left to export; verify and purge still run.
    rerun = run_dag(dag, RUN_DATE)
    assert rerun.state == "success"
    states = _task_states(rerun)
    assert states["events.verify"] == ["success"] and states["events.purge"] == ["success"]
    assert _manifest(ctx, yesterday) == manifest
    ctx.source.close()


def test_example_backfill_dag_parses(
    airflow_home: AirflowHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example backfill DAG file parses: per table days → plan → units → export → day group."""
    import shutil

    examples = Path(__file__).parents[2] / "examples" / "airflow"
    monkeypatch.setenv("DBARCHIVE_CONFIG", str(examples / "archive.toml"))
    target = airflow_home.dags / "dbarchive_backfill_example.py"
    shutil.copy(examples / "dbarchive_backfill_dag.py", target)
    try:
        dag = airflow_home.load_dag("dbarchive_backfill")
        steps = ("days", "plan", "units", "export", "day.publish", "day.purge")
        assert sorted(t.task_id for t in dag.tasks) == sorted(
            f"{table}.{step}" for table in ("payment_events", "api_request_log") for step in steps
        )
        assert dag.max_active_runs == 1
        assert set(dag.params) == {"from", "to"}
    finally:
        target.unlink()
