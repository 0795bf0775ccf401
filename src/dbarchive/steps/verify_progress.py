"""A day's verification told to the reporter as ``verify`` events (``steps/verify.py``)."""

from __future__ import annotations

import datetime as dt
import threading

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.events import Event
from dbarchive.manifest import FileEntry, Manifest


class VerifyProgress:
    """A day's verification as ``verify`` events for the reporter: start, then after each
    database chunk and each file checked, the rows and bytes so far, then finish.

    Rows are the database's rows digested (or, when the database is not compared whole, the
    rows of the files checked); bytes are the files' bytes checked. The files are checked on
    another thread than the rows are read, so the tally is taken under a lock.
    """

    def __init__(
        self, ctx: Context, spec: TableSpec, day: dt.date, manifest: Manifest, database_rows: bool
    ) -> None:
        self._ctx, self._table, self._day = ctx, spec.name, day.isoformat()
        # The database holds the newest version of each archived key (effective digest).
        self._total = manifest.effective_digest.count if database_rows else manifest.rows
        self._database_rows = database_rows
        self._lock = threading.Lock()
        self.rows = self.bytes = 0
        self._emit("start", message=f"{len(manifest.files)} file(s), {manifest.total_bytes} bytes")

    def _emit(self, kind: str, message: str = "") -> None:
        self._ctx.reporter.emit(
            Event("verify", self._table, self._day, kind, self.rows, self.bytes, self._total,
                  message)
        )  # fmt: skip

    def rows_read(self, rows: int) -> None:
        with self._lock:
            self.rows = rows
            self._emit("chunk")

    def file_checked(self, entry: FileEntry) -> None:
        with self._lock:
            self.bytes += entry.bytes
            if not self._database_rows:
                self.rows += entry.rows
            self._emit("chunk")

    def finish(self, source_rows: int | None) -> None:
        with self._lock:
            self.rows = source_rows if source_rows is not None else self.rows
            self._emit("finish", message=f"{self.rows} rows, {self.bytes} bytes checked")
