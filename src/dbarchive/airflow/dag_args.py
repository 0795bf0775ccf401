"""The tasks' arguments of a dbarchive DAG: dbarchive's defaults, then the user's ``default_args``.

- ``execution_timeout`` is derived from ``[throttle] max_runtime``: the export and purge stop
  cleanly after the chunk that passes it (the retry or the next run carries on), so the hard
  limit is that plus :data:`TIMEOUT_GRACE` — time for the chunk in flight and the publication —
  and never cuts a clean stop short. Without ``max_runtime`` there is none (Airflow's default).
- A user's ``on_failure_callback`` runs beside the notifier, not instead of it.
- ``sla`` exists on Airflow 2 only: Airflow 3 removed task SLAs (its deadline alerts are a DAG
  argument), so asking for one there is a config error, said at parse time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbarchive.airflow._compat import HAS_SLA
from dbarchive.config import ArchiveJob
from dbarchive.errors import ConfigError

TIMEOUT_GRACE = dt.timedelta(minutes=10)


class _FromMaxRuntime:
    """The default of ``execution_timeout``: derived from ``[throttle] max_runtime``."""

    def __repr__(self) -> str:
        return "FROM_MAX_RUNTIME"


FROM_MAX_RUNTIME: Any = _FromMaxRuntime()


def derived_timeout(job: ArchiveJob) -> dt.timedelta | None:
    """``max_runtime`` + :data:`TIMEOUT_GRACE`, or None when the config sets no max_runtime."""
    seconds = job.throttle.max_runtime
    return None if seconds is None else dt.timedelta(seconds=seconds) + TIMEOUT_GRACE


def task_defaults(
    ours: dict[str, Any],
    user: dict[str, Any] | None,
    job: ArchiveJob,
    execution_timeout: Any,
    sla: dt.timedelta | None,
) -> dict[str, Any]:
    """``default_args`` for every task: ``ours``, the timeout and SLA, then ``user``'s on top."""
    args = dict(ours)
    timeout = derived_timeout(job) if execution_timeout is FROM_MAX_RUNTIME else execution_timeout
    if timeout is not None:
        args["execution_timeout"] = timeout
    if sla is not None:
        if not HAS_SLA:
            raise ConfigError(
                "build_dag(sla=…): Airflow 3 has no task SLAs; give the DAG a deadline alert "
                "instead (build_dag(..., deadline=DeadlineAlert(...)))"
            )
        args["sla"] = sla
    for name, value in (user or {}).items():
        if name == "on_failure_callback" and args.get(name) is not None and value is not None:
            args[name] = [*_as_list(args[name]), *_as_list(value)]
        else:
            args[name] = value
    return args


def _as_list(callback: Any) -> list[Any]:
    return list(callback) if isinstance(callback, list | tuple) else [callback]
