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

from dbarchive.sources import mysql_sql as q
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo


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
