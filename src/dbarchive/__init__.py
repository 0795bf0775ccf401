"""dbarchive: archive old rows of big MySQL tables to S3 as verified files, then purge them.

The public names are imported on first use (PEP 562), so ``import dbarchive`` is cheap and the
command line can set up its process (see ``dbarchive.cli.main``) before the heavy modules load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dbarchive.build import build_context
    from dbarchive.checksum import RowDigest
    from dbarchive.config import ArchiveJob, TableSpec, job_from_dict, load_job
    from dbarchive.context import Context
    from dbarchive.errors import (
        AlreadyRunning,
        ConfigError,
        DbArchiveError,
        NoUsableKeyError,
        SourceError,
        StopRequested,
        StorageError,
        VerificationError,
    )
    from dbarchive.manifest import Manifest
    from dbarchive.pipeline import ExportResult, PlannedPartition, export, export_day, plan_day
    from dbarchive.restore import RestoreResult, restore_day

_HOME = {
    "build_context": "dbarchive.build",
    "RowDigest": "dbarchive.checksum",
    "ArchiveJob": "dbarchive.config",
    "TableSpec": "dbarchive.config",
    "job_from_dict": "dbarchive.config",
    "load_job": "dbarchive.config",
    "Context": "dbarchive.context",
    "AlreadyRunning": "dbarchive.errors",
    "ConfigError": "dbarchive.errors",
    "DbArchiveError": "dbarchive.errors",
    "NoUsableKeyError": "dbarchive.errors",
    "SourceError": "dbarchive.errors",
    "StopRequested": "dbarchive.errors",
    "StorageError": "dbarchive.errors",
    "VerificationError": "dbarchive.errors",
    "Manifest": "dbarchive.manifest",
    "ExportResult": "dbarchive.pipeline",
    "PlannedPartition": "dbarchive.pipeline",
    "export": "dbarchive.pipeline",
    "export_day": "dbarchive.pipeline",
    "plan_day": "dbarchive.pipeline",
    "RestoreResult": "dbarchive.restore",
    "restore_day": "dbarchive.restore",
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
    "ConfigError",
    "Context",
    "DbArchiveError",
    "ExportResult",
    "Manifest",
    "NoUsableKeyError",
    "PlannedPartition",
    "RestoreResult",
    "RowDigest",
    "SourceError",
    "StopRequested",
    "StorageError",
    "TableSpec",
    "VerificationError",
    "__version__",
    "build_context",
    "export",
    "export_day",
    "job_from_dict",
    "load_job",
    "plan_day",
    "restore_day",
]
