"""Airflow integration: one config, a daily DAG and a backfill DAG. Nothing here imports Airflow
at package import.

from dbarchive.airflow import build_backfill_dag, build_dag
dag = build_dag("/usr/local/airflow/dags/dbarchive/archive.toml", dag_id="mysql_archive")
history = build_backfill_dag("/usr/local/airflow/dags/dbarchive/archive.toml", purge=True)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArchiveExportOperator",
    "ArchivePurgeOperator",
    "ArchiveVerifyOperator",
    "WebhookNotifier",
    "build_backfill_dag",
    "build_dag",
]


def __getattr__(name: str) -> Any:
    """Import the Airflow-facing modules only when one of their names is used."""
    if name in {"build_dag", "build_backfill_dag"}:
        from dbarchive.airflow import dag_factory

        return getattr(dag_factory, name)
    if name == "WebhookNotifier":
        from dbarchive.airflow.notify import WebhookNotifier

        return WebhookNotifier
    if name in {"ArchiveExportOperator", "ArchiveVerifyOperator", "ArchivePurgeOperator"}:
        from dbarchive.airflow import operators

        return getattr(operators, name)
    raise AttributeError(name)
