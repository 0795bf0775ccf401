"""The CPU priority of a dbarchive process: a batch job yields the CPU to whatever shares its host.

On RDS the database has a host of its own and this changes nothing there; on a shared Airflow
worker, a self-managed database host or a developer's laptop, the export's encoder and compressor
then run only on CPU time that nothing else wants. It is a process-wide setting, so the process
owners — the CLI and the Airflow operators — apply it; the library alone never does.
"""

from __future__ import annotations

import os


def lower_cpu_priority(nice: int) -> int | None:
    """Raise this process's nice value to ``nice`` unless it is already at least that.

    Never raises priority (which needs privileges) and never fails a job over it: returns the nice
    value in effect, or None where the platform has no nice values.
    """
    if not hasattr(os, "getpriority"):  # not a Unix
        return None
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if nice > current:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        return os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        return None
