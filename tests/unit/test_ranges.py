"""The range planner: contiguous, disjoint, covering ranges of bounded size."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.units.ranges import (
    KeyRange,
    RangeLimits,
    plan_ranges,
    ranges_needed,
    split_span,
    split_window,
)


@given(
    low=st.integers(-(2**63), 2**63 - 1),
    width=st.integers(0, 10**12),
    parts=st.integers(1, 2000),
)
def test_split_covers_the_span_exactly_once(low: int, width: int, parts: int) -> None:
    """Every key of [low, high] is in exactly one range; ranges ascend and differ by <= 1 key."""
    high = low + width
    ranges = split_span(low, high, parts)
    assert len(ranges) == min(parts, width + 1)
    assert ranges[0].low == low and ranges[-1].high == high
    for before, after in pairwise(ranges):
        assert after.low == before.high + 1
    spans = {r.span for r in ranges}
    assert max(spans) - min(spans) <= 1
    assert sum(r.span for r in ranges) == width + 1


def test_example_from_the_docstring() -> None:
    """Keys 1..1000, 1000 rows, at most 300 rows a range: four ranges of 250 keys."""
    limits = RangeLimits(max_rows=300)
    assert plan_ranges(1, 1000, 1000, None, limits) == [
        KeyRange(1, 250),
        KeyRange(251, 500),
        KeyRange(501, 750),
        KeyRange(751, 1000),
    ]


def test_the_tighter_limit_wins() -> None:
    """Rows and estimated bytes both bound a range; without a row length only rows count."""
    limits = RangeLimits(max_rows=1000, max_bytes=100_000)
    assert ranges_needed(5000, 100.0, limits) == 5  # rows: 5, bytes: 500 kB / 100 kB = 5
    assert ranges_needed(5000, 400.0, limits) == 20  # bytes: 2 MB / 100 kB = 20
    assert ranges_needed(5000, None, limits) == 5
    assert ranges_needed(0, 400.0, limits) == 1
    assert ranges_needed(10**9, None, RangeLimits(max_rows=1, max_ranges=7)) == 7
    assert ranges_needed(10**9, 500.0, RangeLimits()) == 1  # no limit: one range


def test_a_narrow_span_gives_fewer_ranges() -> None:
    """Three keys cannot make ten ranges."""
    assert split_span(5, 7, 10) == [KeyRange(5, 5), KeyRange(6, 6), KeyRange(7, 7)]


def test_bad_input_is_refused() -> None:
    """Empty spans, zero parts and non-positive limits are errors, not silent plans."""
    with pytest.raises(ValueError, match="empty span"):
        split_span(10, 9, 2)
    with pytest.raises(ValueError, match="parts"):
        split_span(1, 9, 0)
    with pytest.raises(ValueError, match="max_rows"):
        RangeLimits(max_rows=0)
    with pytest.raises(ValueError, match="end after"):
        split_window(dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 1), 2)


@given(parts=st.integers(1, 500))
def test_window_slices_are_contiguous_half_open(parts: int) -> None:
    """A day's window cut in slices: each slice starts where the previous one ended."""
    start, end = dt.datetime(2026, 3, 8, 5), dt.datetime(2026, 3, 9, 4)  # a 23-hour DST day
    slices = split_window(start, end, parts)
    assert len(slices) == parts
    assert slices[0][0] == start and slices[-1][1] == end
    for (_, a_end), (b_start, _) in pairwise(slices):
        assert a_end == b_start
