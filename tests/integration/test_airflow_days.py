"""Which day a run archives (issue 21, section 2), on the Airflow this venv has (3.x or 2.11).

The rule (``operators.run_day``): the day before the end of the run's data interval, in the
table's zone; without an interval (an Airflow 3 run triggered without a logical date), the day
before its ``run_after``. What Airflow gives each kind of run:

- scheduled ``@daily``: the run that starts at midnight D archives D-1 (Airflow 2: logical date
  D-1, interval [D-1, D]; Airflow 3: logical date D, interval [D, D]);
- manual (``dags test <dag> D``, or triggered with logical date D): archives D-1 on both;
- backfill from F to L: Airflow 2 (``dags backfill -s F -e L``) archives F .. L (each run's
  logical date); Airflow 3 (``backfill create --from-date F --to-date L``) archives F-1 .. L-1.

The manual runs go through dag.test end to end and the rendered ``day`` field is read back from
Airflow's database; the scheduled and backfill runs are the DagRunInfos Airflow's own scheduler
and backfill code make from the DAG's timetable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dbarchive.config import load_job
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
    day_manifest,
    factory_dag,
    fill_days,
    run_dag,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(300), *AIRFLOW_WARNINGS]
UTC = dt.UTC


def _airflow_3() -> bool:
    """Imported late: Airflow must not load before the airflow_home fixture configured it."""
    from dbarchive.airflow._compat import AIRFLOW_V3

    return AIRFLOW_V3


def _rendered(run: Any, task_id: str) -> dict[str, Any]:
    """The task's rendered template fields as Airflow stored them (what the UI shows)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        fields = session.scalar(
            select(RTIF.rendered_fields).where(
                RTIF.dag_id == run.dag_id, RTIF.run_id == run.run_id, RTIF.task_id == task_id
            )
        )
    assert fields is not None, f"no rendered fields for {task_id}"
    return dict(fields)


def test_a_manual_run_renders_and_archives_the_day_before_its_logical_date(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """``dags test <dag> 2026-11-25``: every task of the table shows day 2026-11-24 in its
    rendered template, and that is the day archived."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 23), 2)
    config = archive_config(tmp_path, s3_bucket)
    dag = dag_file(factory_dag(config, "days_manual"), "days_manual")
    run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    for task in ("settle", "catch_up", "export", "verify", "purge"):
        assert _rendered(run, f"events.{task}")["day"] == "2026-11-24", task
    ctx = archive_context(config, schema, s3_endpoint)
    manifest = day_manifest(ctx, dt.date(2026, 11, 24))
    ctx.source.close()
    assert manifest is not None and manifest.rows == PER_DAY


def test_a_pinned_day_never_moves_the_purges_cutoff_past_today(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """``ArchivePurgeOperator(day="{{ ds }}")`` in today's run counted the retention cutoff from
    tomorrow and purged a day its retention keeps (an outside trial). The cutoff counts from
    the run's day + 1, but never from later than today by the clock."""
    from dbarchive.airflow.operators import ArchivePurgeOperator
    from dbarchive.build import build_context
    from dbarchive.clock import FixedClock
    from dbarchive.config import SourceSettings

    config = archive_config(tmp_path, "bucket")
    job = load_job(config)
    job = job.model_copy(update={"source": SourceSettings(url="mysql://nobody@127.0.0.1/none")})
    clock = FixedClock(dt.datetime(2026, 12, 7, 6, tzinfo=UTC))
    ctx = build_context(job, wall_clock=clock)
    spec = job.table("events")
    today = ArchivePurgeOperator(task_id="p1", config=str(config), table="events", day="2026-12-07")
    assert today.run_date({}, spec, ctx) == dt.date(2026, 12, 7)  # not 12-08
    yesterday = ArchivePurgeOperator(
        task_id="p2", config=str(config), table="events", day="2026-12-06"
    )
    assert yesterday.run_date({}, spec, ctx) == dt.date(2026, 12, 7)
    older = ArchivePurgeOperator(task_id="p3", config=str(config), table="events", day="2026-11-30")
    assert older.run_date({}, spec, ctx) == dt.date(2026, 12, 1)  # a past run keeps its own


def test_a_run_without_a_logical_date_archives_the_day_before_it_was_triggered(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """Airflow 3's "Trigger" without a logical date (no data interval either): the run for
    2026-11-25 08:00 UTC archives 2026-11-24 and shows it."""
    if not _airflow_3():
        pytest.skip("only Airflow 3 runs without a logical date")
    schema = connections
    fill_days(schema, dt.date(2026, 11, 23), 2)
    config = archive_config(tmp_path, s3_bucket)
    dag = dag_file(factory_dag(config, "days_no_logical_date"), "days_no_logical_date")
    run = run_dag(dag, None, run_after=dt.datetime(2026, 11, 25, 8, tzinfo=UTC))
    assert run.state == "success"
    assert run.logical_date is None
    assert _rendered(run, "events.export")["day"] == "2026-11-24"
    ctx = archive_context(config, schema, s3_endpoint)
    manifest = day_manifest(ctx, dt.date(2026, 11, 24))
    ctx.source.close()
    assert manifest is not None and manifest.rows == PER_DAY


def _job(tmp_path: Path, zone: str = "UTC") -> Any:
    path = tmp_path / "archive.toml"
    path.write_text(
        '[destination]\nurl = "/unused"\n[[tables]]\nname = "events"\n'
        f'timestamp_column = "created_at"\ntimezone = "{zone}"\n'
    )
    return path


def _parsed_dag(airflow_home: AirflowHome, config: Path, dag_id: str) -> Any:
    path = airflow_home.write_dag(dag_id, factory_dag(config, dag_id))
    try:
        return airflow_home.load_dag(dag_id)
    finally:
        path.unlink()


def _scheduler_timetable(dag: Any) -> Any:
    """The timetable the scheduler uses (Airflow 3: the core one the DAG serializes to)."""
    if _airflow_3():
        from airflow.serialization.encoders import coerce_to_core_timetable

        return coerce_to_core_timetable(dag.timetable)
    return dag.timetable


def _day_of(info: Any, config: Path) -> dt.date:
    """The day the operators archive for a DagRunInfo: its context as a task sees it."""
    from dbarchive.airflow.operators import run_day

    context = {
        "logical_date": info.logical_date,
        "data_interval_end": info.data_interval.end if info.data_interval else None,
        "dag_run": SimpleNamespace(run_after=info.run_after),
    }
    return run_day(context, load_job(config).tables[0])


@pytest.mark.parametrize(
    ("zone", "lag"), [("UTC", 1), ("Europe/Berlin", 1), ("America/New_York", 2)]
)
def test_scheduled_daily_runs_archive_the_day_before_they_start(
    airflow_home: AirflowHome, tmp_path: Path, zone: str, lag: int
) -> None:
    """The first three scheduled ``@daily`` runs after 2026-11-20, as the scheduler makes them:
    the run starting at midnight UTC of D archives D-1 — D-2 for a table in New York, where D-1
    has not ended at that instant (its settle task would wait: schedule in the table's zone)."""
    from airflow.timetables.base import TimeRestriction

    config = _job(tmp_path, zone)
    dag = _parsed_dag(airflow_home, config, f"days_scheduled_{zone.replace('/', '_')}")
    timetable = _scheduler_timetable(dag)
    start = dt.datetime(2026, 11, 20, tzinfo=UTC)
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    last, days = None, []
    for _ in range(3):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        last = info.data_interval
        starts = info.run_after.astimezone(UTC)
        assert starts.time() == dt.time(0), "a @daily run starts at midnight UTC"
        days.append((starts.date(), _day_of(info, config)))
        logical = info.logical_date.astimezone(UTC).date()
        expected_logical = starts.date() - dt.timedelta(days=0 if _airflow_3() else 1)
        assert logical == expected_logical
    assert [day for _start, day in days] == [s - dt.timedelta(days=lag) for s, _day in days]


def _backfill_infos(dag: Any, first: dt.datetime, last: dt.datetime) -> list[Any]:
    """The runs a backfill from ``first`` to ``last`` creates, by Airflow's own backfill code."""
    if _airflow_3():
        from airflow.models.backfill import _get_info_list
        from airflow.serialization.serialized_objects import DagSerialization

        serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        return list(_get_info_list(from_date=first, to_date=last, reverse=False, dag=serialized))
    # ``airflow dags backfill``: BackfillJobRunner walks the same infos.
    return list(dag.iter_dagrun_infos_between(first, last))


def test_backfill_runs_archive_the_days_their_intervals_end_after(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """A backfill from 2026-11-20 to 2026-11-22: Airflow 2 archives 20, 21, 22 (each run's
    logical date); Airflow 3 archives 19, 20, 21 (the day before each logical date)."""
    config = _job(tmp_path)
    dag = _parsed_dag(airflow_home, config, "days_backfill")
    first, last = (dt.datetime(2026, 11, d, tzinfo=UTC) for d in (20, 22))
    infos = _backfill_infos(dag, first, last)
    archived = [_day_of(info, config) for info in infos]
    shift = 1 if _airflow_3() else 0
    assert archived == [dt.date(2026, 11, d - shift) for d in (20, 21, 22)]
