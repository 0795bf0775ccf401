"""dbarchive: archive old rows of big MySQL tables to S3 as verified files, then purge them.

The public names are imported on first use (PEP 562), so ``import dbarchive`` is cheap and the
command line can set up its process (see ``dbarchive.cli.main``) before the heavy modules load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dbarchive._version import __version__

if TYPE_CHECKING:
    from dbarchive.api import (
        audit,
        erase,
        export,
        hold,
        lifecycle,
        plan,
        purge,
        purge_preview,
        restore,
        run,
        session,
        status,
        throttle_for,
        verify,
    )
    from dbarchive.build import build_context
    from dbarchive.checksum import RowDigest
    from dbarchive.config import ArchiveJob, TableSpec, job_from_dict, load_job
    from dbarchive.context import Context
    from dbarchive.errors import (
        AlreadyRunning,
        ConfigError,
        DayNotSettled,
        DbArchiveError,
        NoUsableKeyError,
        ReplicaBehind,
        SourceError,
        StopRequested,
        StorageError,
        UnconvertibleTextError,
        VerificationError,
    )
    from dbarchive.events import CaptureReporter, LogReporter
    from dbarchive.jobs.restore import RestoreResult, restore_day
    from dbarchive.manifest import Manifest
    from dbarchive.pipeline import PlannedPartition, export_day, plan_day
    from dbarchive.steps.outcome import ExportResult

_HOME = {
    "audit": "dbarchive.api",
    "erase": "dbarchive.api",
    "hold": "dbarchive.api",
    "lifecycle": "dbarchive.api",
    "export": "dbarchive.api",
    "plan": "dbarchive.api",
    "purge": "dbarchive.api",
    "purge_preview": "dbarchive.api",
    "restore": "dbarchive.api",
    "run": "dbarchive.api",
    "session": "dbarchive.api",
    "status": "dbarchive.api",
    "throttle_for": "dbarchive.api",
    "verify": "dbarchive.api",
    "build_context": "dbarchive.build",
    "RowDigest": "dbarchive.checksum",
    "ArchiveJob": "dbarchive.config",
    "TableSpec": "dbarchive.config",
    "job_from_dict": "dbarchive.config",
    "load_job": "dbarchive.config",
    "Context": "dbarchive.context",
    "AlreadyRunning": "dbarchive.errors",
    "ConfigError": "dbarchive.errors",
    "DayNotSettled": "dbarchive.errors",
    "DbArchiveError": "dbarchive.errors",
    "NoUsableKeyError": "dbarchive.errors",
    "ReplicaBehind": "dbarchive.errors",
    "SourceError": "dbarchive.errors",
    "StopRequested": "dbarchive.errors",
    "StorageError": "dbarchive.errors",
    "UnconvertibleTextError": "dbarchive.errors",
    "VerificationError": "dbarchive.errors",
    "CaptureReporter": "dbarchive.events",
    "LogReporter": "dbarchive.events",
    "Manifest": "dbarchive.manifest",
    "ExportResult": "dbarchive.steps.outcome",
    "PlannedPartition": "dbarchive.pipeline",
    "export_day": "dbarchive.pipeline",
    "plan_day": "dbarchive.pipeline",
    "RestoreResult": "dbarchive.jobs.restore",
    "restore_day": "dbarchive.jobs.restore",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'dbarchive' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "AlreadyRunning",
    "ArchiveJob",
    "CaptureReporter",
    "ConfigError",
    "Context",
    "DayNotSettled",
    "DbArchiveError",
    "ExportResult",
    "LogReporter",
    "Manifest",
    "NoUsableKeyError",
    "PlannedPartition",
    "ReplicaBehind",
    "RestoreResult",
    "RowDigest",
    "SourceError",
    "StopRequested",
    "StorageError",
    "TableSpec",
    "UnconvertibleTextError",
    "VerificationError",
    "__version__",
    "audit",
    "build_context",
    "erase",
    "export",
    "export_day",
    "hold",
    "job_from_dict",
    "lifecycle",
    "load_job",
    "plan",
    "plan_day",
    "purge",
    "purge_preview",
    "restore",
    "restore_day",
    "run",
    "session",
    "status",
    "throttle_for",
    "verify",
]
