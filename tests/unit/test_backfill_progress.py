"""Backfill progress: per-unit export events from several workers add up to one total."""

from __future__ import annotations

import datetime as dt

from dbarchive.events import CaptureReporter, Event
from dbarchive.jobs.backfill import DayOutcome
from dbarchive.jobs.backfill_progress import Tally, WorkerReporter


def _export(kind: str, rows: int) -> Event:
    return Event("export", "events", "2026-01-01", kind, rows)


def test_two_workers_rows_and_days_add_up() -> None:
    """Cumulative rows per unit become deltas; a new unit starts from zero; purge events don't count."""
    capture = CaptureReporter()
    tally = Tally(capture, days_total=3)
    a, b = WorkerReporter(tally), WorkerReporter(tally)
    for event in (_export("start", 0), _export("chunk", 100), _export("chunk", 250)):
        a.emit(event)
    b.emit(_export("start", 0))
    b.emit(_export("chunk", 40))
    b.emit(Event("purge", "events", "2026-01-01", "chunk", 1000))
    a.emit(_export("finish", 250))  # the finish repeats the unit's total: nothing new
    a.emit(_export("start", 0))  # the worker's next unit
    a.emit(_export("chunk", 10))
    assert tally.rows == 300
    tally.day_done(
        DayOutcome("events", dt.date(2026, 1, 1), "archived", purged=True, rows_deleted=7)
    )
    last = capture.events[-1]
    assert (last.step, last.kind, last.rows) == ("backfill", "info", 300)
    assert last.data == {"days_done": 1, "days_total": 3, "days_failed": 0}
    assert last.message == "archived, purged 7 rows"
