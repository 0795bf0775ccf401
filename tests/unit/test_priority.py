"""The CPU priority of CLI and Airflow processes (each case in a subprocess: nice is one-way)."""

from __future__ import annotations

import os
import subprocess
import sys


def _in_subprocess(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_priority_is_lowered_to_the_setting_and_never_raised() -> None:
    """nice goes up to the setting; a lower setting leaves a higher nice alone."""
    out = _in_subprocess(
        "import os\n"
        "from dbarchive.runtime.priority import lower_cpu_priority\n"
        "print(lower_cpu_priority(7), lower_cpu_priority(3), os.getpriority(os.PRIO_PROCESS, 0))"
    )
    # The child inherits this process's nice: an in-process CLI test may have raised it already.
    expected = max(7, os.getpriority(os.PRIO_PROCESS, 0))
    assert out == f"{expected} {expected} {expected}"


def test_commands_run_at_the_jobs_priority() -> None:
    """A command's Context comes with the process at ``[throttle] nice`` (10 unless set)."""
    out = _in_subprocess(
        "import os\n"
        "from dbarchive.config import job_from_dict\n"
        "from dbarchive.cli.options import working_context\n"
        "job = job_from_dict({'source': {'url': 'mysql://u@127.0.0.1:1/db'},\n"
        "    'destination': {'url': '/tmp/unused'}, 'throttle': {'nice': 12},\n"
        "    'tables': [{'name': 't', 'timestamp_column': 'ts'}]})\n"
        "working_context(job)\n"
        "print(os.getpriority(os.PRIO_PROCESS, 0))"
    )
    assert out == "12"
