"""``build_maintenance_dag``: the CLI's looking commands as one manually triggered DAG, for
environments without a shell (MWAA). Trigger it with params; each task's log and XCom hold the
answer:

- ``check``: what a run needs and is missing (grants, bucket permissions, settings);
- ``status``: archived, purged, restored and pending days per table;
- ``plan_backfill``: sizing of the history still to archive (params ``from``, ``to``,
  ``workers``, ``db_cap``), before triggering the backfill DAG;
- ``ddl``: each table's definition for a query engine (param ``engine``).

The tasks are independent: a failing check does not hide the status.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dbarchive.airflow._compat import DAG, Param
from dbarchive.airflow.maintenance import (
    ArchiveBackfillPlanOperator,
    ArchiveCheckOperator,
    ArchiveDdlOperator,
    ArchiveStatusOperator,
)
from dbarchive.airflow.operators import load_config
from dbarchive.ddl import ENGINES

DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def build_maintenance_dag(
    config: str | Path | dict[str, Any],
    dag_id: str = "dbarchive_maintenance",
    mysql_conn_id: str = "mysql_default",
    aws_conn_id: str = "aws_default",
    tags: tuple[str, ...] = ("dbarchive", "maintenance"),
    **dag_kwargs: Any,
) -> Any:
    """A DAG with ``check``, ``status``, ``plan_backfill`` and ``ddl`` over every table of
    ``config`` (param ``tables``, comma-separated, to narrow it). Nothing in it deletes or
    exports; ``check`` writes and removes one probe object."""
    config_arg: str | dict[str, Any] = str(config) if isinstance(config, Path) else config
    job = load_config(config_arg)  # a broken config fails the import, with its message
    common: dict[str, Any] = {"config": config_arg, "mysql_conn_id": mysql_conn_id,
                              "aws_conn_id": aws_conn_id, "tables": "{{ params['tables'] }}"}  # fmt: skip
    day = "YYYY-MM-DD; empty: "
    params = {
        "tables": Param("", type="string", description="comma-separated; empty: every table"),
        "from": Param("", type="string", description=day + "the oldest row's day"),
        "to": Param("", type="string", description=day + "the day before the cutoff"),
        "workers": Param(4, type="integer", minimum=1, description="parallel backfill workers"),
        "db_cap": Param(2, type="integer", minimum=1, description="the dbarchive pool's slots"),
        "engine": Param("athena", enum=list(ENGINES), description="query engine of the DDL"),
    }
    dag_kwargs.setdefault("doc_md", f"dbarchive maintenance of {len(job.tables)} table(s).")
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=dag_kwargs.pop("start_date", DEFAULT_START),
        catchup=False,
        params=params,
        tags=list(tags),
        **dag_kwargs,
    ) as dag:
        ArchiveCheckOperator(task_id="check", **common)
        ArchiveStatusOperator(task_id="status", **common)
        ArchiveBackfillPlanOperator(
            task_id="plan_backfill", first="{{ params['from'] }}", last="{{ params['to'] }}",
            workers="{{ params['workers'] }}", db_cap="{{ params['db_cap'] }}", **common,
        )  # fmt: skip
        ArchiveDdlOperator(task_id="ddl", engine="{{ params['engine'] }}", **common)
    return dag
