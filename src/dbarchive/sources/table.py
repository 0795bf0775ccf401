"""What the export knows about a table and a day: columns, key, time index, window, scan plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from dbarchive.dates import day_end, day_start
from dbarchive.sources.canonical import Column, quote_identifier


@dataclass(frozen=True)
class TextCheck:
    """A column whose text is checked row by row, and how: ``lost_bytes`` are the bytes of a
    single-byte charset that do not come back from utf8mb4; None means convert there and back.
    ``enum_error``: instead, an ENUM's error value (index 0, stored as '' for an invalid value
    when ``sql_mode`` is not strict), whose text '' restores as another value or not at all.
    ``row_size``: instead, the row's long values (these columns, ``column`` the first): their text
    (binary as hex) must leave room under ``max_allowed_packet``, or ``HEX()`` and the row digest
    return NULL (the file and the digest alike) and the row's INSERT cannot be sent back.
    ``out_of_range``: instead, a FLOAT(M,D) or DOUBLE(M,D) value past what M and D allow (the
    server rounded it there as it stored it), which no INSERT takes back."""

    column: Column
    lost_bytes: bytes | None
    enum_error: bool = False
    row_size: tuple[Column, ...] = ()
    out_of_range: bool = False


Strategy = Literal["key", "time"]
# How many rows each keyset statement may read: a fixed number, or a function asked before each
# statement (a throttle's rate cap bounds it: a slow rate reads small chunks, not bursts).
ChunkRows = int | Callable[[], int]


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
    # Exported text columns whose values the server checks, per row, to convert to UTF-8 and
    # back unchanged (``charsets.py``): non-UTF-8 charsets that do not round-trip every byte.
    checked_text: tuple[TextCheck, ...] = ()
    # Whether a day also takes the zero/invalid time values its window sorts around: only to read
    # an archive made before such rows were left out of every day (``steps.verify.archive_scope``).
    odd_times_in_days: bool = False
    # SQL true when a row's columns added since its day was archived (left out of ``columns``)
    # hold what a restore of the archived columns gives them; a row where it is false hashes as
    # ``mysql_sql.HELD``, so no archive matches it (``archived_columns.matching_scope``).
    held_unless: str | None = None

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
    """The window of ``day`` in ``zone`` expressed in ``column_zone`` wall-clock text.

    Its end is the instant the settle rule counts from (``dates.day_end``): one definition.
    """
    start, end = day_start(day, zone), day_end(day, zone)
    col_tz = ZoneInfo(column_zone)
    return DayWindow(day, start, end, _column_text(start, col_tz), _column_text(end, col_tz))


def day_holding(text: str, zone: str, column_zone: str) -> dt.date:
    """The day (in ``zone``) whose window, compared as the queries compare it, holds the column
    value ``text`` (wall-clock text in ``column_zone``). Converting the text alone disagreed for
    a wall time that never happened or happened twice in ``column_zone``: a DST gap's 02:30 was
    one day to ``status``/``backfill`` and the day before to export and purge (outside trial)."""
    value = dt.datetime.fromisoformat(text)
    try:
        day = value.replace(tzinfo=ZoneInfo(column_zone)).astimezone(ZoneInfo(zone)).date()
        for _ in range(2):  # a gap or a fold moves it by one day at most
            window = day_window(day, zone, column_zone)
            if value < dt.datetime.fromisoformat(window.start_param):
                day -= dt.timedelta(days=1)
            elif value >= dt.datetime.fromisoformat(window.end_param):
                day += dt.timedelta(days=1)
            else:
                break
    except OverflowError:  # 0001-01-01 00:00 in a zone west of the column's: day 1 it is
        return dt.date.min
    return day


def _column_text(moment: dt.datetime, zone: ZoneInfo) -> str:
    """``moment`` as wall-clock text in the column's zone. The first day of the calendar starts
    at the first value a column holds, whatever the zones: a value before that day's local
    midnight (0001-01-01 00:00 UTC is 0000-12-31 in New York) has no earlier day to be in."""
    if moment.date() == dt.date.min and moment.time() == dt.time():
        return sql_datetime(dt.datetime.min)
    return sql_datetime(moment.astimezone(zone))


def sql_datetime(moment: dt.datetime) -> str:
    """``moment``'s wall clock as DATETIME(6) text, the year in four digits (``strftime('%Y')``
    writes year 1 as '1', which MySQL reads as 2001)."""
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def date_window(day: dt.date, zone: str) -> DayWindow:
    """The window of ``day`` for a DATE column: the date itself. A DATE has no time of day,
    so no zone moves it; ``start``/``end`` are still the local midnights in ``zone``."""
    tz = ZoneInfo(zone)
    following = day + dt.timedelta(days=1)
    return DayWindow(
        day,
        dt.datetime.combine(day, dt.time(), tzinfo=tz),
        dt.datetime.combine(following, dt.time(), tzinfo=tz),
        sql_datetime(dt.datetime.combine(day, dt.time())),
        sql_datetime(dt.datetime.combine(following, dt.time())),
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


@dataclass(frozen=True)
class RangePartition:
    """One RANGE partition on the time column, as the half-open interval of values it holds."""

    name: str
    lower: dt.datetime | None  # None: from the beginning of time
    upper: dt.datetime | None  # None: MAXVALUE


@dataclass(frozen=True)
class NoDayRows:
    """Rows whose time value belongs to no day: the time column, their number, a few keys."""

    column: str
    count: int
    example_keys: list[list[str]]
