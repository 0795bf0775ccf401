"""Progress of a backfill: overall days done and rows archived, as ``backfill`` events.

Workers report per-unit export events (cumulative rows of the unit they are exporting); these
turn them into one running total, emitted under a lock so any reporter (a rich bar, log lines)
sees a consistent count from every thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from dbarchive.events import Event, Reporter


@dataclass
class DayOutcome:
    """What the backfill did with one table-day."""

    table: str
    day: dt.date
    action: str = "pending"  # skipped | archived | verified | failed | pending
    rows: int = 0
    bytes: int = 0
    units: int = 0
    purged: bool = False
    rows_deleted: int = 0
    error: str | None = None
    exit_code: int = 0  # the cause of a failed day, as the CLI's exit code


class Tally:
    """Overall progress (days done, rows archived), turned into ``backfill`` events."""

    def __init__(self, reporter: Reporter, days_total: int) -> None:
        self._reporter, self._lock = reporter, threading.Lock()
        self.days_total, self.days_done, self.rows, self.bytes = days_total, 0, 0, 0
        self.failed = 0

    def emit(self, kind: str, table: str = "", day: str = "", message: str = "") -> None:
        with self._lock:
            data = {"days_done": self.days_done, "days_total": self.days_total,
                    "days_failed": self.failed}  # fmt: skip
            event = Event("backfill", table, day, kind, self.rows, self.bytes, None, message, data)
            self._reporter.emit(event)

    def add(self, rows: int, nbytes: int = 0) -> None:
        with self._lock:
            self.rows += rows
            self.bytes += nbytes
        self.emit("chunk")

    def day_done(self, outcome: DayOutcome) -> None:
        with self._lock:
            self.days_done += 1
            self.failed += outcome.action == "failed"
        text = outcome.action + (f" ({outcome.error})" if outcome.error else "")
        if outcome.purged:
            text += f", purged {outcome.rows_deleted:,} rows"
        self.emit("info", outcome.table, outcome.day.isoformat(), text)


class WorkerReporter:
    """Turns one worker's per-unit export events into overall row counts."""

    def __init__(self, tally: Tally) -> None:
        self._tally, self._seen = tally, 0

    def emit(self, event: Event) -> None:
        if event.step != "export":
            return
        if event.kind == "start":
            self._seen = 0
        elif event.kind in {"chunk", "finish"} and event.rows > self._seen:
            self._tally.add(event.rows - self._seen)
            self._seen = event.rows
