"""Airflow integration: one config, a daily DAG and a backfill DAG. Nothing here imports Airflow
at package import.

from dbarchive.airflow import build_backfill_dag, build_dag
dag = build_dag("/usr/local/airflow/dags/dbarchive/archive.toml", dag_id="mysql_archive")
history = build_backfill_dag("/usr/local/airflow/dags/dbarchive/archive.toml", purge=True)

Every operator is importable from here, for DAGs of your own (the ``build_*`` factories use
them): the daily steps, the work-unit and backfill steps, and the maintenance tasks (check,
plan --backfill, status, ddl) that MWAA users, without a shell, run from a DAG
(``build_maintenance_dag``).
"""

from __future__ import annotations

from typing import Any

# name -> the module defining it (imported on first use).
_WHERE = {
    "build_dag": "dag_factory",
    "build_backfill_dag": "dag_factory",
    "build_maintenance_dag": "maintenance_dag",
    "WebhookNotifier": "notify",
    "ArchiveSettledSensor": "operators",
    "ArchiveExportOperator": "operators",
    "ArchiveVerifyOperator": "operators",
    "ArchivePurgeOperator": "operators",
    "ArchiveSummaryOperator": "operators",
    "ArchiveCatchUpOperator": "catch_up",
    "ArchiveBackfillDaysOperator": "unit_operators",
    "ArchivePlanOperator": "unit_operators",
    "ArchiveUnitsOperator": "unit_operators",
    "ArchiveUnitOperator": "unit_operators",
    "ArchivePublishOperator": "unit_operators",
    "ArchiveDayPurgeOperator": "unit_operators",
    "ArchiveCheckOperator": "maintenance",
    "ArchiveBackfillPlanOperator": "maintenance",
    "ArchiveStatusOperator": "maintenance",
    "ArchiveDdlOperator": "maintenance",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import the Airflow-facing modules only when one of their names is used."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(name)
    from dbarchive.airflow import (
        catch_up,
        dag_factory,
        maintenance,
        maintenance_dag,
        notify,
        operators,
        unit_operators,
    )

    modules = {"catch_up": catch_up, "dag_factory": dag_factory, "maintenance": maintenance,
               "maintenance_dag": maintenance_dag, "notify": notify, "operators": operators,
               "unit_operators": unit_operators}  # fmt: skip
    return getattr(modules[module], name)
