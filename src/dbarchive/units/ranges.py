"""Range planning: cut one day's rows into contiguous key ranges of bounded size. Pure: no I/O.

The inputs are what the database gives cheaply — the day's smallest and largest key (one
index-only statement over the day's slice of the time index), its row count from the same
statement, and the table's average row length (index statistics) — never a count per range.
Each range holds about ``rows / k`` rows when keys are spread evenly over the day's key span,
which is what an AUTO_INCREMENT key growing with time gives.

Ranges are inclusive ``[low, high]`` integer intervals that cover ``[low, high]`` of the day
exactly once: no gap, no overlap, in ascending order. Any integer ordinal works: a primary key,
or a time expressed in microseconds (:func:`split_window`). The export (work units, one per
range) and the Aurora ``SELECT … INTO OUTFILE S3`` export both use this module.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

MAX_RANGES = 1000  # Airflow maps at most 1024 task instances per task by default


@dataclass(frozen=True)
class KeyRange:
    """An inclusive interval ``[low, high]`` of integer keys."""

    low: int
    high: int

    @property
    def span(self) -> int:
        """How many key values the range holds (not rows: keys may have gaps)."""
        return self.high - self.low + 1


@dataclass(frozen=True)
class RangeLimits:
    """The size bound of one range: rows, estimated bytes, or both (the tighter wins)."""

    max_rows: int | None = None
    max_bytes: int | None = None
    max_ranges: int = MAX_RANGES

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_ranges < 1:
            raise ValueError("max_ranges must be at least 1")


def ranges_needed(rows: int, row_bytes: float | None, limits: RangeLimits) -> int:
    """How many ranges keep each one within the limits (at least 1, at most ``max_ranges``).

    ``row_bytes`` is the table's average row length; without it only ``max_rows`` applies.
    """
    parts = 1
    if limits.max_rows is not None:
        parts = max(parts, math.ceil(rows / limits.max_rows))
    if limits.max_bytes is not None and row_bytes:
        parts = max(parts, math.ceil(rows * row_bytes / limits.max_bytes))
    return max(1, min(parts, limits.max_ranges))


def split_span(low: int, high: int, parts: int) -> list[KeyRange]:
    """``[low, high]`` cut into ``parts`` contiguous ranges whose spans differ by at most one.

    Fewer ranges come back when the span holds fewer keys than ``parts``.
    """
    if high < low:
        raise ValueError(f"empty span: high {high} is below low {low}")
    if parts < 1:
        raise ValueError("parts must be at least 1")
    span = high - low + 1
    parts = min(parts, span)
    size, extra = divmod(span, parts)
    out: list[KeyRange] = []
    start = low
    for i in range(parts):
        end = start + size - 1 + (1 if i < extra else 0)
        out.append(KeyRange(start, end))
        start = end + 1
    return out


def plan_ranges(
    low: int, high: int, rows: int, row_bytes: float | None, limits: RangeLimits
) -> list[KeyRange]:
    """The ranges of one day: ``[low, high]`` split so each range stays within ``limits``.

    Example: keys 1..1000 of a day holding 1000 rows, at most 300 rows a range, give
    ``[1, 250] [251, 500] [501, 750] [751, 1000]``.
    """
    return split_span(low, high, ranges_needed(rows, row_bytes, limits))


def split_window(
    start: dt.datetime, end: dt.datetime, parts: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The half-open window ``[start, end)`` cut into contiguous half-open slices (microseconds).

    Both ends must be naive or both aware; slices are in ascending order and cover the window.
    """
    if end <= start:
        raise ValueError("the window must end after it starts")
    total = (end - start) // dt.timedelta(microseconds=1)
    ranges = split_span(0, total - 1, parts)
    return [
        (start + dt.timedelta(microseconds=r.low), start + dt.timedelta(microseconds=r.high + 1))
        for r in ranges
    ]


__all__ = [
    "MAX_RANGES",
    "KeyRange",
    "RangeLimits",
    "plan_ranges",
    "ranges_needed",
    "split_span",
    "split_window",
]
