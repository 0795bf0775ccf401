"""Context: what every step needs — the job, its source and storage, and where events go."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dbarchive import dates
from dbarchive.clock import Clock, system_clock
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.errors import SourceError
from dbarchive.events import Event, NullReporter, Reporter
from dbarchive.identity import SourceIdentity, refuse_moved_archive
from dbarchive.layout import PartitionPath
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.protocol import Source
from dbarchive.sources.read_session import ReadSource, Requirement
from dbarchive.sources.table import TableInfo
from dbarchive.steps.folder_claim import require_owner
from dbarchive.storage import Storage


@dataclass
class Context:
    """What every step needs: the job, its source and storage, and where events go."""

    job: ArchiveJob
    source: Source
    storage: Storage
    reporter: Reporter = field(default_factory=NullReporter)
    clock: Callable[[], float] = time.monotonic  # durations only; the date comes from wall_clock
    # What time it is, hence what "today" is and which days are over (dates.is_settled).
    wall_clock: Clock = field(default_factory=system_clock)
    # Who runs ``SELECT … INTO OUTFILE S3`` for aurora-outfile tables (None: Aurora itself).
    # Who runs aurora-outfile's statements (an ``OutfileRunner``; None: Aurora itself).
    outfile_runner: object | None = None
    # Called by the export after every chunk: raises StopRequested on a signal, stop file or
    # run-time limit (the CLI wires the throttle's check here); by default it never stops.
    check_stop: Callable[[], None] = field(default=lambda: None)
    # The read endpoint (``[source] read_url``), where the export and the verification read the
    # rows of a day (:meth:`reads`); None: they read the primary, ``source``.
    reader: ReadSource | None = None
    # Table formats' catalogs opened by this run, by format (``lakehouse``).
    lakes: dict[str, object] = field(default_factory=dict)
    _described: dict[tuple[str | None, str], TableInfo] = field(default_factory=dict)
    _folders: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def describe(self, spec: TableSpec) -> TableInfo:
        """Describe each table once per run (one name may be configured in two schemas)."""
        key = (spec.schema_name, spec.name)
        if key not in self._described:
            self._described[key] = self.source.describe(spec)
        return self._described[key]

    def folder(self, spec: TableSpec) -> str:
        """The table's folder (``ArchiveJob.folder``); the first use per run refuses, with the
        fix, a table whose archive is still in the folder earlier versions gave it."""
        key = (spec.schema_name, spec.name)
        if key not in self._folders:
            refuse_moved_archive(self.storage, self.job, spec)
            folder, owner = self.job.folder(spec), self.owner(spec)
            layout = self.job.destination.layout
            require_owner(self.storage, folder, layout, owner, f"table {spec.label}")
            self._folders[key] = folder
        return self._folders[key]

    def owner(self, spec: TableSpec) -> SourceIdentity:
        """Whose the table's archive is: schema, table, former names and source id (no server:
        reading it would need the database, and it never decides whose an archive is)."""
        settings = self.source.settings
        schema = spec.schema_name or settings.database
        return SourceIdentity(schema, spec.name, settings.id, {}, spec.former_tables(schema))

    @property
    def mysql(self) -> MySqlSource:
        """The source as MySQL itself, for what only MySQL has (Aurora's OUTFILE, the load probe,
        the ledger's and the audit's statements, system versioning); steps use :attr:`source`."""
        if not isinstance(self.source, MySqlSource):
            raise SourceError(f"this needs a MySQL source, not {type(self.source).__name__}")
        return self.source

    def reads(self, spec: TableSpec, day: dt.date) -> Source:
        """Where the export and the verification read the rows of ``day``: the primary, or the
        read endpoint once it has applied the primary's writes up to the day's end plus
        ``settle`` (waiting up to ``read_lag_wait``, else ReplicaBehind; read_session.py).
        An aurora-outfile table is read where Aurora writes its files: on the primary."""
        if self.reader is None or spec.server_side:
            return self.source
        why = (
            f"the end of {day} in {spec.timezone} plus settle = {dates.duration_text(spec.settle)}"
        )
        need = Requirement(
            dates.settles_at(spec, day), spec.name, day, why, self._waiting(spec.name, day)
        )
        self.reader.require_applied(need)
        return self.reader

    def _waiting(self, table: str, day: dt.date) -> Callable[[str], None]:
        """Said before each pause for the read endpoint; a stop request ends the wait."""

        def waiting(message: str) -> None:
            self.reporter.emit(Event("read", table, day.isoformat(), "info", message=message))
            self.check_stop()

        return waiting

    def close(self) -> None:
        """Close the sessions to the primary and to the read endpoint."""
        if self.reader is not None:
            self.reader.close()
        self.source.close()

    def today(self, spec: TableSpec) -> dt.date:
        """Today in the table's zone, by the wall clock."""
        return dates.today(spec.timezone, self.wall_clock.now())

    def require_settled(self, spec: TableSpec, day: dt.date) -> None:
        """Refuse (exit 2) a day that has not ended plus ``settle``, before anything is written."""
        dates.require_settled(spec, day, self.wall_clock.now())

    def partition(self, spec: TableSpec, day: dt.date) -> PartitionPath:
        layout = self.job.destination.layout
        return PartitionPath(spec.name, day, layout, folder=self.folder(spec))

    def identity(self, spec: TableSpec) -> SourceIdentity:
        """Who the table's partitions must belong to: schema, table, source id (and the server
        this run reads, recorded as information)."""
        return replace(self.owner(spec), server=self.source.server_identity())
