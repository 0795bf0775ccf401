"""Every difference between Airflow 3.x (``airflow.sdk``) and 2.11 (MWAA's 2.x line), in one place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbarchive.clock import system_clock

try:  # Airflow 3
    from airflow.sdk import (
        DAG,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        Param,
        TaskGroup,
        task_group,
    )
    from airflow.sdk.exceptions import AirflowRescheduleException

    AIRFLOW_V3 = True
    # Newer in the Task SDK than the names above: an older 3.x has them in airflow-core only.
    try:
        from airflow.sdk import BaseNotifier
    except ImportError:  # pragma: no cover - Airflow 3.0.x
        from airflow.notifications.basenotifier import (  # type: ignore[no-redef, import-not-found, unused-ignore]
            BaseNotifier,
        )
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # pragma: no cover - Airflow 3.0.x
        from airflow.exceptions import (  # type: ignore[no-redef, assignment, unused-ignore]
            AirflowFailException,
        )
except ImportError:  # Airflow 2.x
    # mypy checks against Airflow 3, where these 2.x paths are gone or deprecated.
    from airflow.decorators import task_group  # type: ignore[no-redef, attr-defined, unused-ignore]
    from airflow.exceptions import (  # type: ignore[no-redef, assignment, unused-ignore]
        AirflowFailException,
        AirflowRescheduleException,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef, attr-defined, unused-ignore]
    from airflow.models import DAG, BaseOperator  # type: ignore[no-redef, assignment, unused-ignore]
    from airflow.models.param import Param  # type: ignore[no-redef, import-not-found, unused-ignore]
    from airflow.notifications.basenotifier import (  # type: ignore[no-redef, import-not-found, unused-ignore]
        BaseNotifier,
    )
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef, import-not-found, unused-ignore]
    from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef, import-not-found, unused-ignore]

    AIRFLOW_V3 = False


HAS_SLA = not AIRFLOW_V3  # Airflow 3 removed task SLAs (deadline alerts replace them)


def run_dag_test(dag: Any, logical_date: dt.datetime | None, **kwargs: Any) -> Any:
    """``dag.test`` for one logical date; returns the DagRun (it does not raise on failure).

    On Airflow 3 ``logical_date=None`` is a run without one (a manual trigger "now"; give
    ``run_after``); Airflow 2 has no such run.
    """
    if AIRFLOW_V3:
        return dag.test(logical_date=logical_date, **kwargs)
    return dag.test(execution_date=logical_date, **kwargs)


def interval_end(context: Any) -> dt.datetime:
    """The instant a run's archived day is counted back from: the end of its data interval.

    Airflow 3 cron runs have a zero-length interval at their logical date; a run triggered
    without a logical date (Airflow 3 only) has no interval: its ``run_after`` counts.
    """
    end = context.get("data_interval_end") or context.get("logical_date")
    if end is None:
        end = getattr(context.get("dag_run"), "run_after", None)
    if end is None:
        raise ValueError(
            "the task context has no data_interval_end, logical_date or dag_run.run_after; "
            "give the operator an explicit day"
        )
    return end  # type: ignore[no-any-return]


def run_moment(context: Any) -> dt.datetime:
    """When the run is "now" for retention: its interval end, its logical date, else the clock.

    Airflow 3 may start a manually triggered run without a logical date.
    """
    moment = context.get("data_interval_end") or context.get("logical_date")
    return moment or system_clock().now()


def max_map_length() -> int:
    """``[core] max_map_length``: the most items a task may return to map over (1024)."""
    try:
        from airflow.configuration import conf
    except ImportError:  # pragma: no cover - a Task SDK worker without airflow-core
        return 1024
    return conf.getint("core", "max_map_length", fallback=1024)


__all__ = [
    "AIRFLOW_V3",
    "DAG",
    "HAS_SLA",
    "AirflowFailException",
    "AirflowRescheduleException",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "BaseSensorOperator",
    "Param",
    "TaskGroup",
    "interval_end",
    "max_map_length",
    "run_dag_test",
    "run_moment",
    "task_group",
]
