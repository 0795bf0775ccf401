"""dbarchive: archive old rows of big MySQL tables to S3 as verified files, then purge them."""

from __future__ import annotations

__version__ = "0.1.0"

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
