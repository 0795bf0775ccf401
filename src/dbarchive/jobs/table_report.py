"""What one table's run did (exported, verified, purged, dropped) and what went wrong: the
record the CLI, the Airflow operators and library callers read after ``daily.run``/``purge``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dbarchive.errors import DbArchiveError
from dbarchive.jobs.backlog import Backlog, PurgeOutcome
from dbarchive.steps import partitions
from dbarchive.steps.outcome import ExportResult
from dbarchive.steps.purge import PurgeResult
from dbarchive.steps.verify import VerifyResult


@dataclass(frozen=True)
class TableError:
    """One failure of a table's run: its message, its cause (the exit code the CLI gives that
    cause) and the day of the purge it failed, if one (a purge goes on with the next day)."""

    message: str
    exit_code: int = 1
    day: dt.date | None = None
    error: DbArchiveError | None = field(default=None, compare=False, repr=False)  # its cause


@dataclass
class TableReport:
    """Everything one table's run did, and what went wrong."""

    table: str
    exported: list[ExportResult] = field(default_factory=list)
    verified: list[VerifyResult] = field(default_factory=list)
    purged: list[PurgeResult] = field(default_factory=list)
    dropped: list[partitions.DroppedPartition] = field(default_factory=list)
    failures: list[TableError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said, but not a failure (a day not over)
    stopped: str | None = None
    seconds: float = 0.0
    throttle_pauses: int = 0
    backlog: Backlog | None = None  # rows past retention left after the purge (jobs/backlog.py)

    @property
    def ok(self) -> bool:
        return not self.failures and self.stopped is None

    @property
    def purge_outcome(self) -> PurgeOutcome:
        """What the purge left behind, for the backlog's note."""
        failed = tuple(f.day for f in self.failures if f.day is not None)
        kept = sum(p.rows_kept for p in self.purged)
        return PurgeOutcome(self.stopped is not None, failed, kept)

    @property
    def errors(self) -> list[str]:
        """The failures' messages."""
        return [f.message for f in self.failures]

    def fail(self, message: str, exit_code: int = 1, day: dt.date | None = None) -> None:
        """Record a failure (:class:`TableError`)."""
        self.failures.append(TableError(message, exit_code, day))

    def failed(self, error: DbArchiveError, day: dt.date | None = None) -> None:
        """Record the error that failed the table (or ``day``), kept with its cause: whether a
        retry can help is the error's to say (Airflow fails a missing grant at once)."""
        self.failures.append(TableError(str(error), error.exit_code, day, error))

    @property
    def rows_exported(self) -> int:
        return sum(r.rows for r in self.exported)

    @property
    def bytes_exported(self) -> int:
        return sum(r.bytes for r in self.exported)

    @property
    def rows_deleted(self) -> int:
        return sum(p.rows_deleted for p in self.purged) + sum(d.rows for d in self.dropped)
