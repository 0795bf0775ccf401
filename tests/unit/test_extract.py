"""prefetched: a bounded read-ahead thread that keeps order, errors and early stops intact."""

from __future__ import annotations

import queue
import sys
import threading
import time
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


def _blocked_on_a_full_queue(thread: threading.Thread) -> bool:
    """Whether ``thread`` waits for room in a full queue: its stack shows ``Queue.put`` calling
    ``Condition.wait``, and that queue is full (a waiter already woken by a ``get`` still shows
    the wait for a moment, but no longer a full queue)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None and frame.f_back is not None:
        waiting = frame.f_code.co_name == "wait" and frame.f_code.co_filename == threading.__file__
        caller = frame.f_back
        if (
            waiting
            and caller.f_code.co_name == "put"
            and caller.f_code.co_filename == queue.__file__
        ):
            q = caller.f_locals["self"]
            return bool(q.full())
        frame = frame.f_back
    return False


def test_read_ahead_is_bounded_and_stops_with_the_consumer() -> None:
    """The reader stays at most depth+1 items ahead and stops when the consumer stops.

    The test waits until the reader is either blocked on the full queue or done with all 100
    items (an unbounded reader never blocks), then counts: no waiting for a while that a slow
    reader could outlast."""
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    readers = [t for t in threading.enumerate() if t.name == "dbarchive-extract"]
    while any(t.is_alive() and not _blocked_on_a_full_queue(t) for t in readers):
        time.sleep(0.001)  # polls the reader's state; no outcome depends on how long this takes
    assert len(produced) == 1 + 2 + 1  # consumed + queued + the one being put
    items.close()  # the consumer stops early: the reader thread must end
    assert not any(t.is_alive() for t in readers)
    assert len(produced) < 100
