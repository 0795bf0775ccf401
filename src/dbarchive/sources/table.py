"""What the export knows about a table and a day: columns, key, time index, window, scan plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from dbarchive.sources.canonical import Column, quote_identifier

Strategy = Literal["key", "time"]
_SQL_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class TableInfo:
    """A described table: exported columns, paging key, and the column that defines the day."""

    schema: str
    name: str
    columns: tuple[Column, ...]  # exported, in table order
    key: tuple[Column, ...]
    key_index: str  # "PRIMARY" or the unique index the key comes from
    ts: Column
    ts_index: str | None  # an index whose first column is ts, if any
    where: str | None = None

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"

    @property
    def key_is_primary(self) -> bool:
        return self.key_index == "PRIMARY"


@dataclass(frozen=True)
class DayWindow:
    """One calendar day in the partition time zone, as the half-open range the query uses.

    ``start``/``end`` are the aware local midnights; ``start_param``/``end_param`` are the same
    instants as the column stores them (naive text in the column's zone; UTC for TIMESTAMP).
    A DST change makes the day 23 or 25 hours long; the bounds are still the two midnights.
    """

    day: dt.date
    start: dt.datetime
    end: dt.datetime
    start_param: str
    end_param: str


def day_window(day: dt.date, zone: str, column_zone: str) -> DayWindow:
    """The window of ``day`` in ``zone`` expressed in ``column_zone`` wall-clock text."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    col_tz = ZoneInfo(column_zone)
    return DayWindow(
        day,
        start,
        end,
        start.astimezone(col_tz).strftime(_SQL_DATETIME),
        end.astimezone(col_tz).strftime(_SQL_DATETIME),
    )


@dataclass(frozen=True)
class ScanPlan:
    """How one day will be read: by key range (through the day's key bounds) or by time index."""

    strategy: Strategy
    estimated_rows: int
    low_key: bytes | None = None  # key strategy: the day's smallest and largest key
    high_key: bytes | None = None
    reason: str = ""

    @property
    def is_empty(self) -> bool:
        return self.estimated_rows == 0
