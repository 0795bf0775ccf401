"""prefetched: a bounded read-ahead thread that keeps order, errors and early stops intact."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dbarchive.steps.extract import prefetched


def test_items_arrive_in_order() -> None:
    """Every item arrives once, in order."""
    assert list(prefetched(range(1000), depth=2)) == list(range(1000))


def test_reader_error_is_raised_in_the_consumer() -> None:
    """An error while reading surfaces where the items are consumed, after the good items."""

    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("connection lost")

    items = prefetched(failing())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="connection lost"):
        next(items)


def test_read_ahead_is_bounded_and_stops_with_the_consumer() -> None:
    """The reader stays at most depth+1 items ahead and stops when the consumer stops."""
    produced: list[int] = []
    release = threading.Event()

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    release.wait(0.2)  # give the reader time to run ahead as far as it may
    assert len(produced) <= 1 + 2 + 1  # consumed + queued + the one being put
    items.close()  # the consumer stops early: the reader thread must end
    assert not any(t.name == "dbarchive-extract" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 100
