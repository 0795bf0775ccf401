"""DAGs from one config: the daily DAG (``build_dag``) and the history backfill (``build_backfill_dag``).

Daily, per table ``settle >> catch_up >> export >> verify >> purge`` (``settle`` waits,
rescheduled, until the run's day has ended plus the table's ``settle`` time: a run starts at
midnight, a little before its day may be archived; ``catch_up`` exports and verifies days earlier
runs missed, as ``dbarchive run`` does); a table with ``range_rows``/``range_mib`` (and every
``export.strategy = "aurora-outfile"`` table) is exported in work units instead:
``settle >> catch_up >> plan >> export[unit…] >> verify >> purge``, so one very large day is
spread over several tasks (with aurora-outfile an export task only runs Aurora's statement;
``verify`` lands its files).
The backfill maps over days and their work units (see :func:`build_backfill_dag`). At parse
time only the config is read (no database, no S3, no environment changes); a broken config makes
the DAG file fail to import with its own message.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from dbarchive.airflow._compat import DAG, Param, TaskGroup, task_group
from dbarchive.airflow.catch_up import ArchiveCatchUpOperator
from dbarchive.airflow.dag_args import FROM_MAX_RUNTIME, task_defaults
from dbarchive.airflow.notify import WebhookNotifier
from dbarchive.airflow.operators import (
    ArchiveExportOperator,
    ArchivePurgeOperator,
    ArchiveSettledSensor,
    ArchiveSummaryOperator,
    ArchiveVerifyOperator,
    load_config,
)
from dbarchive.airflow.unit_operators import (
    ArchiveBackfillDaysOperator,
    ArchiveDayPurgeOperator,
    ArchivePlanOperator,
    ArchivePublishOperator,
    ArchiveUnitOperator,
    ArchiveUnitsOperator,
)
from dbarchive.config import TableSpec

DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def group_id(table: str) -> str:
    """A TaskGroup id for a table name (Airflow allows letters, digits, '-', '.', '_')."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", table)


def build_dag(
    config: str | Path | dict[str, Any],
    dag_id: str = "dbarchive",
    schedule: str | None = "@daily",
    start_date: dt.datetime = DEFAULT_START,
    catchup: bool = False,
    mysql_conn_id: str = "mysql_default",
    aws_conn_id: str = "aws_default",
    pool: str | None = None,
    retries: int = 2,
    retry_delay: dt.timedelta = dt.timedelta(minutes=5),
    notifier: WebhookNotifier | None = None,
    notify_success: bool = False,
    tags: tuple[str, ...] = ("dbarchive",),
    *,
    default_args: dict[str, Any] | None = None,
    execution_timeout: Any = FROM_MAX_RUNTIME,
    sla: dt.timedelta | None = None,
    dagrun_timeout: dt.timedelta | None = None,
    **dag_kwargs: Any,
) -> Any:
    """A DAG archiving every table of ``config``; runs never overlap (one purge per table at a time).

    Args:
        config: path of the TOML job config (read now, and again by each task), or a mapping.
        pool: an Airflow pool capping how many dbarchive tasks hit the database at once.
        notifier: called once per failed task (e.g. ``WebhookNotifier(conn_id="slack_dbarchive")``).
        notify_success: also post one summary (rows archived and deleted per table) after a
            successful run, from a final ``report`` task.
        default_args: every task's arguments, over dbarchive's (``retries``, ``retry_delay``,
            ``pool``, the notifier): e.g. ``owner``, ``email``, ``on_retry_callback``; an
            ``on_failure_callback`` here runs beside the notifier.
        execution_timeout: each task's hard limit; by default ``[throttle] max_runtime`` plus
            10 minutes (a task stops cleanly after its chunk past max_runtime), none without it.
        sla: Airflow 2 only (Airflow 3 removed SLAs; give ``deadline=`` there, a DAG argument).
        dagrun_timeout, **dag_kwargs: passed to the DAG: ``on_failure_callback`` and
            ``on_success_callback`` (DAG-level), ``description``, ``deadline``, ``params``…
    """
    config_arg: str | dict[str, Any] = str(config) if isinstance(config, Path) else config
    job = load_config(config_arg)
    ours = _default_args(pool, retries, retry_delay, notifier)
    args = task_defaults(ours, default_args, job, execution_timeout, sla)
    common = _common(config_arg, mysql_conn_id, aws_conn_id)
    dag_kwargs.setdefault(
        "doc_md", f"dbarchive: daily export, verify and purge of {len(job.tables)} table(s)."
    )
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=catchup,
        max_active_runs=1,
        default_args=args,
        tags=list(tags),
        dagrun_timeout=dagrun_timeout,
        **dag_kwargs,
    ) as dag:
        purges = [_daily_group(spec, common) for spec in job.tables]
        if notify_success and notifier is not None:
            groups = {spec.name: group_id(spec.name) for spec in job.tables}
            days = {s.name: f"{group_id(s.name)}.{'verify' if s.ranged else 'export'}"
                    for s in job.tables}  # fmt: skip
            purges >> ArchiveSummaryOperator(
                task_id="report", groups=groups, notifier=notifier, day_tasks=days
            )
    return dag


def _default_args(
    pool: str | None, retries: int, retry_delay: dt.timedelta, notifier: WebhookNotifier | None
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "on_failure_callback": notifier,
    }
    if pool:
        args["pool"] = pool
    return args


def _common(config: str | dict[str, Any], mysql_conn_id: str, aws_conn_id: str) -> dict[str, Any]:
    return {"config": config, "mysql_conn_id": mysql_conn_id, "aws_conn_id": aws_conn_id}


def _daily_group(spec: TableSpec, common: dict[str, Any]) -> Any:
    """One table's daily tasks; returns its purge task."""
    with TaskGroup(group_id=group_id(spec.name)):
        # Reads no database: not in the pool that caps database sessions.
        settle = ArchiveSettledSensor(
            task_id="settle", config=common["config"], table=spec.name, pool="default_pool",
            execution_timeout=None,  # it waits in reschedule mode, bounded by its own timeout
        )  # fmt: skip
        catch_up = ArchiveCatchUpOperator(task_id="catch_up", table=spec.name, **common)
        settle >> catch_up
        if spec.ranged:
            plan = ArchivePlanOperator(task_id="plan", table=spec.name, **common)
            catch_up >> plan
            export: Any = ArchiveUnitOperator.partial(
                task_id="export", table=spec.name,
                map_index_template=ArchiveUnitOperator.default_map_index, **common,
            ).expand(unit=plan.output)  # fmt: skip
            # none_failed: a day with nothing left to export (re-run) still verifies and purges.
            verify: Any = ArchivePublishOperator(
                task_id="verify", table=spec.name, trigger_rule="none_failed", **common
            )
        else:
            export = ArchiveExportOperator(task_id="export", table=spec.name, **common)
            verify = ArchiveVerifyOperator(task_id="verify", table=spec.name, **common)
            catch_up >> export
        purge = ArchivePurgeOperator(task_id="purge", table=spec.name, **common)
        export >> verify >> purge
    return purge


def build_backfill_dag(
    config: str | Path | dict[str, Any],
    dag_id: str = "dbarchive_backfill",
    first_day: str = "",
    last_day: str = "",
    purge: bool = False,
    tables: tuple[str, ...] = (),
    start_date: dt.datetime = DEFAULT_START,
    mysql_conn_id: str = "mysql_default",
    aws_conn_id: str = "aws_default",
    pool: str | None = None,
    retries: int = 2,
    retry_delay: dt.timedelta = dt.timedelta(minutes=5),
    notifier: WebhookNotifier | None = None,
    tags: tuple[str, ...] = ("dbarchive", "backfill"),
    *,
    default_args: dict[str, Any] | None = None,
    execution_timeout: Any = FROM_MAX_RUNTIME,
    **dag_kwargs: Any,
) -> Any:
    """A manually triggered DAG archiving (and with ``purge`` deleting) history days in parallel.

    Per table: ``days`` (still to do, from the params ``from``/``to``) → ``plan`` mapped over the
    days → ``units`` (their work units in one list) → ``export`` mapped over the units (each
    exports and verifies one key range) → per day, a mapped group ``day``: ``publish`` (assembles
    and verifies the manifest once every unit landed) then ``purge`` (only days before the
    retention cutoff). Every task that touches the database runs in ``pool``, whose slots cap
    the sessions dbarchive holds at once; the executor spreads the tasks over its workers.

    Args:
        first_day, last_day: the default params ``from``/``to`` (``YYYY-MM-DD``); empty: from the
            oldest row's day to the day before the cutoff. A run covers at most ``[core]
            max_map_length`` days and units (1024 by default): give long histories in batches.
        tables: only these tables (default: every table of the config).
        default_args, execution_timeout, **dag_kwargs: as :func:`build_dag` takes them.
    """
    config_arg: str | dict[str, Any] = str(config) if isinstance(config, Path) else config
    job = load_config(config_arg)
    ours = _default_args(pool, retries, retry_delay, notifier)
    args = task_defaults(ours, default_args, job, execution_timeout, None)
    specs = [job.table(t) for t in tables] if tables else list(job.tables)
    common = _common(config_arg, mysql_conn_id, aws_conn_id)
    day_help = "YYYY-MM-DD; empty: "
    params = {
        "from": Param(first_day, type="string", description=day_help + "the oldest row's day"),
        "to": Param(last_day, type="string", description=day_help + "the day before the cutoff"),
    }
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        default_args=args,
        params=params,
        tags=list(tags),
        **{"doc_md": f"dbarchive: backfill of {len(specs)} table(s), purge={purge}.", **dag_kwargs},
    ) as dag:
        for spec in specs:
            _backfill_group(spec, common, purge)
    return dag


def _backfill_group(spec: TableSpec, common: dict[str, Any], purge: bool) -> None:
    with TaskGroup(group_id=group_id(spec.name)):
        days = ArchiveBackfillDaysOperator(
            task_id="days", table=spec.name, first="{{ params['from'] }}",
            last="{{ params['to'] }}", purge=purge, **common,
        )  # fmt: skip
        plans = ArchivePlanOperator.partial(
            task_id="plan", table=spec.name,
            map_index_template=ArchivePlanOperator.default_map_index, **common,
        ).expand(day=days.output)  # fmt: skip
        # Flattening touches no database: it does not take a pool slot.
        units = ArchiveUnitsOperator(task_id="units", plans=plans.output, pool="default_pool")
        exports = ArchiveUnitOperator.partial(
            task_id="export", table=spec.name,
            map_index_template=ArchiveUnitOperator.default_map_index, **common,
        ).expand(unit=units.output)  # fmt: skip

        @task_group(group_id="day")
        def finish(day: Any) -> None:
            # all_done: each day publishes once its own units landed, whatever other days did.
            publish = ArchivePublishOperator(
                task_id="publish", table=spec.name, day=day, trigger_rule="all_done", **common
            )
            if purge:
                publish >> ArchiveDayPurgeOperator(
                    task_id="purge", table=spec.name, day=day, **common
                )

        exports >> finish.expand(day=days.output)
