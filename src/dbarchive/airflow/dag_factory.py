"""build_dag: one daily DAG from one config — per table ``export >> verify >> purge``.

At parse time it only reads the config (no database, no S3, no environment changes); a broken
config makes the DAG file fail to import with the config's own error message.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from dbarchive.airflow._compat import DAG, TaskGroup
from dbarchive.airflow.notify import WebhookNotifier
from dbarchive.airflow.operators import (
    ArchiveExportOperator,
    ArchivePurgeOperator,
    ArchiveSummaryOperator,
    ArchiveVerifyOperator,
    load_config,
)

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
) -> Any:
    """A DAG archiving every table of ``config``; runs never overlap (one purge per table at a time).

    Args:
        config: path of the TOML job config (read now, and again by each task), or a mapping.
        pool: an Airflow pool capping how many dbarchive tasks hit the database at once.
        notifier: called once per failed task (e.g. ``WebhookNotifier(conn_id="slack_dbarchive")``).
        notify_success: also post one summary (rows archived and deleted per table) after a
            successful run, from a final ``report`` task.
    """
    config_arg: str | dict[str, Any] = str(config) if isinstance(config, Path) else config
    job = load_config(config_arg)
    default_args: dict[str, Any] = {
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "on_failure_callback": notifier,
    }
    if pool:
        default_args["pool"] = pool
    common: dict[str, Any] = {
        "config": config_arg,
        "mysql_conn_id": mysql_conn_id,
        "aws_conn_id": aws_conn_id,
    }
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=catchup,
        max_active_runs=1,
        default_args=default_args,
        tags=list(tags),
        doc_md=f"dbarchive: daily export, verify and purge of {len(job.tables)} table(s).",
    ) as dag:
        purges = []
        for spec in job.tables:
            with TaskGroup(group_id=group_id(spec.name)):
                export = ArchiveExportOperator(task_id="export", table=spec.name, **common)
                verify = ArchiveVerifyOperator(task_id="verify", table=spec.name, **common)
                purge = ArchivePurgeOperator(task_id="purge", table=spec.name, **common)
                export >> verify >> purge
                purges.append(purge)
        if notify_success and notifier is not None:
            groups = {spec.name: group_id(spec.name) for spec in job.tables}
            purges >> ArchiveSummaryOperator(task_id="report", groups=groups, notifier=notifier)
    return dag
