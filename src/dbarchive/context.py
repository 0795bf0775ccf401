"""Context: what every step needs — the job, its source and storage, and where events go."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.events import NullReporter, Reporter
from dbarchive.layout import PartitionPath
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.table import TableInfo
from dbarchive.storage import Storage

if TYPE_CHECKING:
    from dbarchive.aurora.statement import OutfileRunner


@dataclass
class Context:
    """What every step needs: the job, its source and storage, and where events go."""

    job: ArchiveJob
    source: MySqlSource
    storage: Storage
    reporter: Reporter = field(default_factory=NullReporter)
    clock: Callable[[], float] = time.monotonic
    # Who runs ``SELECT … INTO OUTFILE S3`` for aurora-outfile tables (None: Aurora itself).
    outfile_runner: OutfileRunner | None = None
    # Called by the export after every chunk: raises StopRequested on a signal, stop file or
    # run-time limit (the CLI wires the throttle's check here); by default it never stops.
    check_stop: Callable[[], None] = field(default=lambda: None)
    _described: dict[str, TableInfo] = field(default_factory=dict)

    def describe(self, spec: TableSpec) -> TableInfo:
        """Describe each table once per run."""
        if spec.name not in self._described:
            self._described[spec.name] = self.source.describe(spec)
        return self._described[spec.name]

    def partition(self, spec: TableSpec, day: dt.date) -> PartitionPath:
        return PartitionPath(spec.name, day, self.job.destination.layout)
