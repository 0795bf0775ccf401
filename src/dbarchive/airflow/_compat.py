"""Every difference between Airflow 3.x (``airflow.sdk``) and 2.11 (MWAA's 2.x line), in one place."""

from __future__ import annotations

import datetime as dt
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, BaseHook, BaseOperator, Param, TaskGroup, task_group

    AIRFLOW_V3 = True
except ImportError:  # Airflow 2.x
    # mypy checks against Airflow 3, where these 2.x paths are gone or deprecated.
    from airflow.decorators import task_group  # type: ignore[no-redef, attr-defined, unused-ignore]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef, attr-defined, unused-ignore]
    from airflow.models import DAG, BaseOperator  # type: ignore[no-redef, assignment, unused-ignore]
    from airflow.models.param import Param  # type: ignore[no-redef, import-not-found, unused-ignore]
    from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef, import-not-found, unused-ignore]

    AIRFLOW_V3 = False


def run_dag_test(dag: Any, logical_date: dt.datetime) -> Any:
    """``dag.test`` for one logical date; returns the DagRun (it does not raise on failure)."""
    if AIRFLOW_V3:
        return dag.test(logical_date=logical_date)
    return dag.test(execution_date=logical_date)


def interval_end(context: Any) -> dt.datetime:
    """The end of the run's data interval (Airflow 3 cron runs: their logical date)."""
    end = context.get("data_interval_end") or context.get("logical_date")
    if end is None:
        raise ValueError("the task context has neither data_interval_end nor logical_date")
    return end  # type: ignore[no-any-return]


def run_moment(context: Any) -> dt.datetime:
    """When the run is "now" for retention: its interval end, its logical date, else the clock.

    Airflow 3 may start a manually triggered run without a logical date.
    """
    moment = context.get("data_interval_end") or context.get("logical_date")
    return moment or dt.datetime.now(dt.UTC)


__all__ = [
    "AIRFLOW_V3",
    "DAG",
    "BaseHook",
    "BaseOperator",
    "Param",
    "TaskGroup",
    "interval_end",
    "run_dag_test",
    "run_moment",
    "task_group",
]
