"""Airflow integration: one config, one daily DAG. Nothing here imports Airflow at package import.

from dbarchive.airflow import build_dag
dag = build_dag("/usr/local/airflow/dags/dbarchive/archive.toml", dag_id="mysql_archive")
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArchiveExportOperator",
    "ArchivePurgeOperator",
    "ArchiveVerifyOperator",
    "WebhookNotifier",
    "build_dag",
]


def __getattr__(name: str) -> Any:
    """Import the Airflow-facing modules only when one of their names is used."""
    if name == "build_dag":
        from dbarchive.airflow.dag_factory import build_dag

        return build_dag
    if name == "WebhookNotifier":
        from dbarchive.airflow.notify import WebhookNotifier

        return WebhookNotifier
    if name in {"ArchiveExportOperator", "ArchiveVerifyOperator", "ArchivePurgeOperator"}:
        from dbarchive.airflow import operators

        return getattr(operators, name)
    raise AttributeError(name)
