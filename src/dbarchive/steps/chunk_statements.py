"""A purge chunk's locking read and DELETE as statements of at most ``statement_rows`` rows.

A chunk stays one transaction with one COMMIT (chunks of a few rows, each committed, were worse
for production). Inside it each statement reads or deletes a few dozen rows and the server's
thread waits for the next one in between, so the application's statements can run between the
purge's rather than behind one statement of thousands of rows. At an equal rate that lowered
production's p99 (BENCHMARKS.md, "What a row costs the server").

The split keeps the chunk's guarantees:
- each read continues after the last row the previous one locked, in the chunk's order;
- the DELETE ranges of a wholly matched chunk tile its key range without a gap (each starts just
  after the previous one ends), so a row inserted into that range after the read is inside one
  of them and its affected count rolls the chunk back, as with one range.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dbarchive.config import ThrottleSettings
from dbarchive.errors import SourceError
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo

# The errors with which the server refuses to delete a row and keeps it: a foreign key ON DELETE
# RESTRICT / NO ACTION still referencing it (1451; 1217 from older servers), a trigger's SIGNAL
# (1644, or any number it sets, with an SQLSTATE of class 45). One such row failed its whole
# chunk, and so the day and every later day, on every run (outside trials): the purge deletes
# the others one by one and keeps it.
REFUSALS = frozenset({1217, 1451, 1644})


def is_refusal(error: SourceError) -> bool:
    """Whether the server refused to delete the row (``REFUSALS``), rather than failed."""
    return error.mysql_code in REFUSALS or (error.sqlstate or "").startswith("45")


class ChunkSizer:
    """Rows per chunk, adapted so each chunk takes about ``chunk_time`` (like pt-osc)."""

    def __init__(self, settings: ThrottleSettings) -> None:
        self._s = settings
        self.rows = max(settings.min_chunk_rows, min(1000, settings.max_chunk_rows))

    def adapt(self, seconds: float, rows_seen: int) -> None:
        if rows_seen < self.rows or seconds <= 0:
            return  # a short last chunk says nothing about speed
        ratio = min(2.0, max(0.5, self._s.chunk_time / seconds))
        self.rows = min(self._s.max_chunk_rows, max(self._s.min_chunk_rows, int(self.rows * ratio)))

    def shrink(self) -> None:
        self.rows = max(self._s.min_chunk_rows, self.rows // 2)

    def limit(self, rows: int | None) -> None:
        """At most ``rows`` (the throttle's rate cap x ``chunk_time``); None: no limit."""
        if rows is not None:
            self.rows = max(self._s.min_chunk_rows, min(self.rows, rows))


def lock_rows(
    src: Source,
    info: TableInfo,
    shape: q.SelectShape,
    window: DayWindow,
    plan: ScanPlan,
    start: tuple[bool, Any],
    rows: int,
    per_statement: int | None,
) -> list[Any]:
    """The chunk's next ``rows`` rows locked ``FOR UPDATE`` (``start``: first chunk?, the last
    row before it), by statements of at most ``per_statement`` rows (None: one statement)."""
    first, last = start
    out: list[Any] = []
    while len(out) < rows:
        n = rows - len(out) if per_statement is None else min(per_statement, rows - len(out))
        sql, params = src.chunk_query(info, shape, window, plan, first, last, n)
        part = src.query(sql + " FOR UPDATE", params, "locking a purge chunk")
        out += part
        if len(part) < n:
            break
        first, last = False, part[-1]
    return out


def key_slices(
    keys: Sequence[tuple[Any, ...]], per_statement: int | None
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """``keys`` in consecutive slices of at most ``per_statement`` (None: all at once)."""
    size = len(keys) if per_statement is None else per_statement
    for i in range(0, len(keys), max(1, size)):
        yield keys[i : i + size]


def tiled_ranges(
    keys: Sequence[tuple[Any, ...]], per_statement: int | None
) -> Iterator[tuple[int, int, int]]:
    """(low, high, rows) of the DELETE ranges of a wholly matched chunk whose single integer key
    takes the ascending values ``keys`` (as the server sent them, text or int): consecutive,
    together exactly the first key..the last. Only each slice's boundaries are converted."""
    low = int(keys[0][0])
    for part in key_slices(keys, per_statement):
        high = int(part[-1][0])
        yield low, high, len(part)
        low = high + 1
