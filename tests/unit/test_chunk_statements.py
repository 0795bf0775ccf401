"""The split of a purge chunk's DELETE into statements (``steps/chunk_statements.py``)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dbarchive.config import ThrottleSettings
from dbarchive.config.destination import BUDGET_STATEMENT_ROWS
from dbarchive.steps.chunk_statements import key_slices, tiled_ranges


def test_ranges_tile_the_chunk_without_a_gap() -> None:
    """Each range starts just after the previous one ends: id 3 or 8, absent from the chunk,
    still falls inside a range (and its DELETE's count then rolls the chunk back)."""
    keys = [(b"1",), (b"2",), (b"5",), (b"9",), (b"10",)]  # as the server sends them: text
    assert list(tiled_ranges(keys, 2)) == [(1, 2, 2), (3, 9, 2), (10, 10, 1)]


def test_no_split_is_one_range() -> None:
    assert list(tiled_ranges([("4",), ("6",), ("9",)], None)) == [(4, 9, 3)]


@given(
    st.lists(st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=200, unique=True).map(sorted),
    st.one_of(st.none(), st.integers(1, 50)),
)
def test_ranges_cover_exactly_the_chunk_s_key_range(ints: list[int], per: int | None) -> None:
    ranges = list(tiled_ranges([(str(i),) for i in ints], per))
    assert ranges[0][0] == ints[0] and ranges[-1][1] == ints[-1]
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert sum(rows for _, _, rows in ranges) == len(ints)
    for low, high, rows in ranges:  # each range holds exactly its own slice's keys
        assert rows == sum(low <= i <= high for i in ints)
        assert per is None or rows <= per


def test_key_slices_keep_order_and_size() -> None:
    keys = [(i, "x") for i in range(7)]
    assert [len(s) for s in key_slices(keys, 3)] == [3, 3, 1]
    assert [k for s in key_slices(keys, 3) for k in s] == keys
    assert list(key_slices(keys, None)) == [keys]


def test_a_budget_splits_chunks_into_statements_of_50_rows_unless_told() -> None:
    """``statement_rows`` when set; else 50 with a latency budget (gentleness is what a budget
    asks for), else None: one statement per chunk, the fastest."""
    assert ThrottleSettings().rows_per_statement is None
    assert ThrottleSettings(latency_budget=2.0).rows_per_statement == BUDGET_STATEMENT_ROWS == 50
    assert ThrottleSettings(probe_p99_ms=20).rows_per_statement == 50
    assert ThrottleSettings(statement_rows=7).rows_per_statement == 7
    assert ThrottleSettings(latency_budget=2.0, statement_rows=5000).rows_per_statement == 5000
    with pytest.raises(ValidationError):
        ThrottleSettings(statement_rows=0)
